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

/// Which code defines the network: both fold into the same graph (`graph.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `torchvision.models.ShuffleNetV2`.
    Torchvision,
    /// The tutorial's re-implementation (issue 11): conv biases, ReLU6, two units per
    /// stage, processed half first, 3x3 convs and channel shuffle with `groups` groups.
    Tutorial { groups: usize },
}

/// `ShuffleNetV2(stages_repeats, stages_out_channels, num_classes)`, or the tutorial's
/// network with the same fields (`stages_out_channels` = stem, planes, conv5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arch {
    pub stages_repeats: [usize; 3],
    pub stages_out_channels: [usize; 5],
    pub num_classes: usize,
    pub family: Family,
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
            family: Family::Torchvision,
        })
    }

    pub fn width(width: Width) -> Arch {
        Arch {
            stages_repeats: [4, 8, 4],
            stages_out_channels: width.channels(),
            num_classes: 1000,
            family: Family::Torchvision,
        }
    }

    /// The tutorial's `ShuffleNetV2(planes, groups, num_classes)`: a 24-channel stem, two
    /// units per stage, `conv5` channels as its weights have them (1024 or 2048).
    pub fn tutorial(
        planes: [usize; 3],
        groups: usize,
        conv5: usize,
        num_classes: usize,
    ) -> Result<Arch, Error> {
        if groups == 0 || conv5 == 0 || num_classes == 0 {
            return Err(Error::Usage(
                "groups, conv5 channels and classes must be positive".into(),
            ));
        }
        let mut inp = TUTORIAL_STEM;
        for (s, &p) in planes.iter().enumerate() {
            // The stride-2 unit's bottleneck makes `p - inp` channels, the stride-1 unit
            // splits `p` in half; `groups` dividing `p / 2` makes it divide every 3x3 conv's
            // channels and the shuffle's (stage2's stride-2 unit uses 1 group).
            if p <= inp || !p.is_multiple_of(2) {
                return Err(Error::Usage(format!(
                    "stage{} has {p} planes: it must be even and more than its input's {inp}",
                    s + 2
                )));
            }
            if !(p / 2).is_multiple_of(groups) {
                return Err(Error::Usage(format!(
                    "groups = {groups} does not divide stage{}'s channels ({inp} in, {p} out, \
                     halves of {})",
                    s + 2,
                    p / 2
                )));
            }
            inp = p;
        }
        Ok(Arch {
            stages_repeats: [2, 2, 2],
            stages_out_channels: [TUTORIAL_STEM, planes[0], planes[1], planes[2], conv5],
            num_classes,
            family: Family::Tutorial { groups },
        })
    }

    /// The published width this is, if any.
    pub fn known_width(&self) -> Option<Width> {
        self.backbone_width().filter(|_| self.num_classes == 1000)
    }

    /// The published width whose backbone this is, whatever its head (a fine-tune's).
    pub fn backbone_width(&self) -> Option<Width> {
        Width::ALL.into_iter().find(|w| {
            self.family == Family::Torchvision
                && self.stages_repeats == [4, 8, 4]
                && self.stages_out_channels == w.channels()
        })
    }

    /// Human name: "x1.0", "x1.0, 5 classes" (a fine-tune), or the constructor arguments
    /// for a custom network.
    pub fn describe(&self) -> String {
        if let Family::Tutorial { groups } = self.family {
            let c = self.stages_out_channels;
            return format!(
                "tutorial ShuffleNetV2 (2 units/stage, ReLU6), planes {:?}, groups {groups}, {} classes",
                [c[1], c[2], c[3]],
                self.num_classes
            );
        }
        match self.backbone_width() {
            Some(w) if self.num_classes == 1000 => format!("x{}", w.label()),
            Some(w) => format!("x{}, {} classes", w.label(), self.num_classes),
            None => format!(
                "custom (repeats {:?}, channels {:?}, {} classes)",
                self.stages_repeats, self.stages_out_channels, self.num_classes
            ),
        }
    }
}

/// The tutorial's stem width (`stage1`: 3x3/2 conv 3 -> 24).
pub const TUTORIAL_STEM: usize = 24;

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
    fn tutorial_groups_must_divide_channels() {
        let a = Arch::tutorial([244, 488, 976], 1, 2048, 5).unwrap();
        assert_eq!(
            a.describe(),
            "tutorial ShuffleNetV2 (2 units/stage, ReLU6), planes [244, 488, 976], groups 1, 5 classes"
        );
        assert_eq!(a.known_width(), None);
        assert!(Arch::tutorial([32, 48, 64], 2, 40, 5).is_ok());
        let e = Arch::tutorial([32, 48, 64], 3, 40, 5).unwrap_err();
        assert!(e.to_string().contains("groups = 3 does not divide"), "{e}");
        assert!(Arch::tutorial([20, 48, 64], 1, 40, 5).is_err());
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
