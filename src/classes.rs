//! The 1000 ImageNet-1k class names, in torchvision's order.
//!
//! Source: `torchvision.models._meta._IMAGENET_CATEGORIES` (BSD-3-Clause), written to
//! `assets/imagenet_classes.txt` by `tools/make_fixtures.py`.

const NAMES: &str = include_str!("../assets/imagenet_classes.txt");

/// The name of ImageNet class `index`, or a placeholder for a custom head's extra classes.
pub fn name(index: usize) -> String {
    NAMES
        .lines()
        .nth(index)
        .map(str::to_string)
        .unwrap_or_else(|| format!("class {index}"))
}

pub fn count() -> usize {
    NAMES.lines().count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn has_imagenet_names() {
        assert_eq!(super::count(), 1000);
        assert_eq!(super::name(0), "tench");
        assert_eq!(super::name(999), "toilet tissue");
        assert_eq!(super::name(1000), "class 1000");
    }
}
