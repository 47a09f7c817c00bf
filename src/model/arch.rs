//! Widths and the constructor arguments of `torchvision.models.ShuffleNetV2`.

use crate::Error;

/// The four published widths. Channels are torchvision's `stages_out_channels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    X0_5,
    X1_0,
    X1_5,
    X2_0,
}

impl Width {
    pub const ALL: [Width; 4] = [Width::X0_5, Width::X1_0, Width::X1_5, Width::X2_0];

    pub fn channels(self) -> [usize; 5] {
        match self {
            Width::X0_5 => [24, 48, 96, 192, 1024],
            Width::X1_0 => [24, 116, 232, 464, 1024],
            Width::X1_5 => [24, 176, 352, 704, 1024],
            Width::X2_0 => [24, 244, 488, 976, 2048],
        }
    }

    /// "0.5", "1.0", ... as used on the command line and the page.
    pub fn label(self) -> &'static str {
        match self {
            Width::X0_5 => "0.5",
            Width::X1_0 => "1.0",
            Width::X1_5 => "1.5",
            Width::X2_0 => "2.0",
        }
    }

    pub fn parse(s: &str) -> Result<Width, Error> {
        let s = s.trim().trim_start_matches(['x', 'X']);
        Width::ALL
            .into_iter()
            .find(|w| w.label() == s || w.label().trim_end_matches(".0") == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown width {s:?}: expected 0.5, 1.0, 1.5 or 2.0"
                ))
            })
    }
}

/// `ShuffleNetV2(stages_repeats, stages_out_channels, num_classes)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arch {
    pub stages_repeats: [usize; 3],
    pub stages_out_channels: [usize; 5],
    pub num_classes: usize,
}

impl Arch {
    pub fn new(
        stages_repeats: [usize; 3],
        stages_out_channels: [usize; 5],
        num_classes: usize,
    ) -> Result<Arch, Error> {
        if stages_repeats.contains(&0) {
            return Err(Error::Usage("every stage needs at least one unit".into()));
        }
        if stages_out_channels.contains(&0) || num_classes == 0 {
            return Err(Error::Usage(
                "channel and class counts must be positive".into(),
            ));
        }
        // Every unit splits its output in two equal branches.
        if let Some(c) = stages_out_channels[1..4]
            .iter()
            .find(|c| !c.is_multiple_of(2))
        {
            return Err(Error::Usage(format!(
                "stage width {c} is odd: units split channels in half"
            )));
        }
        Ok(Arch {
            stages_repeats,
            stages_out_channels,
            num_classes,
        })
    }

    pub fn width(width: Width) -> Arch {
        Arch {
            stages_repeats: [4, 8, 4],
            stages_out_channels: width.channels(),
            num_classes: 1000,
        }
    }

    /// The published width this is, if any.
    pub fn known_width(&self) -> Option<Width> {
        Width::ALL.into_iter().find(|w| {
            self.stages_repeats == [4, 8, 4]
                && self.stages_out_channels == w.channels()
                && self.num_classes == 1000
        })
    }

    /// Human name: "x1.0", or the constructor arguments for a custom network.
    pub fn describe(&self) -> String {
        match self.known_width() {
            Some(w) => format!("x{}", w.label()),
            None => format!(
                "custom (repeats {:?}, channels {:?}, {} classes)",
                self.stages_repeats, self.stages_out_channels, self.num_classes
            ),
        }
    }
}

/// Output side of a 3x3 convolution or pool with padding 1 and the given stride.
pub fn out_size(size: usize, stride: usize) -> usize {
    (size + 2 - 3) / stride + 1
}

/// Smallest input side the network accepts: every 3x3/2 step needs a side of at least 1.
pub const MIN_INPUT: usize = 1;
/// Largest input side accepted, to keep activation memory bounded.
pub const MAX_INPUT: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_widths() {
        assert_eq!(Width::parse("1.0").unwrap(), Width::X1_0);
        assert_eq!(Width::parse("x0.5").unwrap(), Width::X0_5);
        assert_eq!(Width::parse("2").unwrap(), Width::X2_0);
        assert!(Width::parse("3.0").is_err());
    }

    #[test]
    fn rejects_odd_stage_width() {
        assert!(Arch::new([1, 1, 1], [8, 9, 16, 32, 64], 10).is_err());
        assert!(Arch::new([1, 1, 1], [8, 8, 16, 32, 64], 10).is_ok());
    }

    #[test]
    fn spatial_sizes_match_pytorch() {
        // floor((224 + 2 - 3) / 2) + 1 = 112, then 56, 28, 14, 7.
        let mut s = 224;
        for want in [112, 56, 28, 14, 7] {
            s = out_size(s, 2);
            assert_eq!(s, want);
        }
        assert_eq!(out_size(1, 2), 1);
        assert_eq!(out_size(37, 2), 19);
    }
}
