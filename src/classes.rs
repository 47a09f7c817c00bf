//! The names of a model's outputs: ImageNet's for 1000-class heads, else whatever travels
//! with the weights (safetensors metadata) or comes in a names file (`class_indices.json`
//! as training scripts write it, a JSON array, or `labels.txt` with one name per line).
//!
//! ImageNet names: `torchvision.models._meta._IMAGENET_CATEGORIES` (BSD-3-Clause), written to
//! `assets/imagenet_classes.txt` by `tools/make_fixtures.py`.

use std::collections::HashMap;

use crate::{Error, Result};

const IMAGENET: &str = include_str!("../assets/imagenet_classes.txt");

/// The safetensors `__metadata__` key holding the names, as a JSON array of strings.
pub const METADATA_KEY: &str = "class_names";

/// A names file is small text: anything larger is not one.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// More classes than any classifier this runs (ImageNet-21k has 21,841).
pub const MAX_CLASSES: usize = 100_000;
/// Longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Where a model's names came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// ImageNet-1k's, the default for 1000-class heads.
    ImageNet,
    /// None known: "class 3".
    Numbered,
    /// The weights file's metadata or a names file.
    Given,
}

/// One name per output of a classifier head.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassNames {
    names: Vec<String>,
    source: Source,
}

impl ClassNames {
    /// ImageNet's names for a 1000-class head, else "class 0", "class 1", ...
    pub fn default_for(count: usize) -> ClassNames {
        if count == 1000 {
            ClassNames {
                names: IMAGENET.lines().map(str::to_string).collect(),
                source: Source::ImageNet,
            }
        } else {
            ClassNames {
                names: (0..count).map(|i| format!("class {i}")).collect(),
                source: Source::Numbered,
            }
        }
    }

    /// Names given by the user, checked: non-empty, not too many, none blank or too long.
    pub fn given(names: Vec<String>) -> Result<ClassNames> {
        if names.is_empty() {
            return Err(Error::Input("the class names list is empty".into()));
        }
        if names.len() > MAX_CLASSES {
            return Err(Error::Input(format!(
                "{} class names is more than any classifier has (limit {MAX_CLASSES})",
                names.len()
            )));
        }
        for (i, n) in names.iter().enumerate() {
            if n.trim().is_empty() {
                return Err(Error::Input(format!("class {i} has an empty name")));
            }
            if n.chars().count() > MAX_NAME_CHARS {
                return Err(Error::Input(format!(
                    "class {i}'s name is longer than {MAX_NAME_CHARS} characters"
                )));
            }
        }
        Ok(ClassNames {
            names,
            source: Source::Given,
        })
    }

    /// Reads a names file: a JSON object `{"0": "daisy", ...}` (keys exactly 0..K-1), a
    /// JSON array, or plain text with one name per line (trailing blank lines ignored).
    /// `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<ClassNames> {
        let bad = |why: String| Error::Input(format!("{file}: {why}"));
        if bytes.len() > MAX_FILE_BYTES {
            return Err(bad(format!(
                "{} bytes is too large for a class names file (limit {MAX_FILE_BYTES})",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
        let text = text.trim_start_matches('\u{feff}');
        let names = match text.trim_start().chars().next() {
            Some('{') => from_index_object(text).map_err(bad)?,
            Some('[') => serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| bad(format!("not a JSON array of names: {e}")))?,
            _ => {
                let mut lines: Vec<String> = text
                    .lines()
                    .map(|l| l.trim_end_matches('\r').trim().to_string())
                    .collect();
                while lines.last().is_some_and(|l| l.is_empty()) {
                    lines.pop();
                }
                lines
            }
        };
        ClassNames::given(names).map_err(|e| bad(e.to_string()))
    }

    /// The names stored in a safetensors file's metadata, if any.
    pub fn from_metadata(metadata: &HashMap<String, String>) -> Result<Option<ClassNames>> {
        let Some(json) = metadata.get(METADATA_KEY) else {
            return Ok(None);
        };
        let names: Vec<String> = serde_json::from_str(json).map_err(|e| {
            Error::Corrupt(format!(
                "the file's \"{METADATA_KEY}\" metadata is not a JSON array of names: {e}"
            ))
        })?;
        ClassNames::given(names).map(Some)
    }

    /// The metadata entry that stores these names in a safetensors file.
    pub fn to_metadata(&self) -> (String, String) {
        let json = serde_json::to_string(&self.names).expect("strings serialize");
        (METADATA_KEY.to_string(), json)
    }

    /// Fails unless there is one name per output of a head with `outputs` classes.
    pub fn check_count(&self, outputs: usize) -> Result<()> {
        if self.names.len() == outputs {
            return Ok(());
        }
        Err(Error::Input(format!(
            "the class names list has {} names but the model's head has {outputs} outputs",
            self.names.len()
        )))
    }

    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn source(&self) -> Source {
        self.source
    }
}

/// `{"0": "daisy", "1": "dandelion"}`: every index from 0 to K-1 exactly once.
fn from_index_object(text: &str) -> std::result::Result<Vec<String>, String> {
    let map: HashMap<String, String> = serde_json::from_str(text)
        .map_err(|e| format!("not a JSON object of index to name: {e}"))?;
    if map.len() > MAX_CLASSES {
        return Err(format!("more than {MAX_CLASSES} classes"));
    }
    let mut names = vec![None; map.len()];
    for (key, name) in map {
        let i: usize = key
            .parse()
            .map_err(|_| format!("key {key:?} is not a class index"))?;
        let slot = names.get_mut(i).ok_or_else(|| {
            format!("index {i} is past the last class; indices must run from 0 without gaps")
        })?;
        *slot = Some(name);
    }
    // Unique keys within 0..len fill every slot.
    Ok(names.into_iter().map(Option::unwrap_or_default).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_imagenet_only_for_1000_classes() {
        let imagenet = ClassNames::default_for(1000);
        assert_eq!(imagenet.source(), Source::ImageNet);
        assert_eq!(imagenet.name(0), "tench");
        assert_eq!(imagenet.name(999), "toilet tissue");
        let five = ClassNames::default_for(5);
        assert_eq!(five.source(), Source::Numbered);
        assert_eq!(five.name(3), "class 3");
        assert_eq!(ClassNames::default_for(1001).name(1000), "class 1000");
    }

    #[test]
    fn reads_class_indices_json_arrays_and_label_lines() {
        let want = ["daisy", "dandelion", "roses"];
        let json = br#"{"1": "dandelion", "0": "daisy", "2": "roses"}"#;
        for (bytes, file) in [
            (&json[..], "class_indices.json"),
            (br#"["daisy", "dandelion", "roses"]"#, "names.json"),
            (b"daisy\r\ndandelion\nroses\n\n", "labels.txt"),
            ("\u{feff}daisy\ndandelion\nroses".as_bytes(), "bom.txt"),
        ] {
            let names = ClassNames::parse(bytes, file).unwrap();
            assert_eq!(names.names(), want, "{file}");
            assert_eq!(names.source(), Source::Given);
        }
    }

    #[test]
    fn bad_names_files_say_what_is_wrong() {
        let err = |bytes: &[u8]| ClassNames::parse(bytes, "f.json").unwrap_err().to_string();
        assert!(err(br#"{"0": "a", "2": "c"}"#).contains("without gaps"));
        assert!(err(br#"{"0": "a", "x": "c"}"#).contains("not a class index"));
        assert!(err(br#"{"0": 1}"#).contains("JSON object"));
        assert!(err(b"").contains("empty"));
        assert!(err(b"a\n\nc").contains("class 1 has an empty name"));
        assert!(err(&[0xff, 0xfe, 0x00]).contains("UTF-8"));
        let huge = vec![b'a'; MAX_FILE_BYTES + 1];
        assert!(err(&huge).contains("too large"));
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(err(long.as_bytes()).contains("longer than"));
        let many = "a\n".repeat(MAX_CLASSES + 1);
        assert!(err(many.as_bytes()).contains("limit"));
    }

    #[test]
    fn the_count_must_match_the_head() {
        let names = ClassNames::parse(b"a\nb\nc\nd", "labels.txt").unwrap();
        assert!(names.check_count(4).is_ok());
        let e = names.check_count(5).unwrap_err().to_string();
        assert!(e.contains("4 names") && e.contains("5 outputs"), "{e}");
    }

    #[test]
    fn metadata_round_trips() {
        let names = ClassNames::given(vec!["a \"quoted\" name".into(), "b".into()]).unwrap();
        let (key, value) = names.to_metadata();
        let back = ClassNames::from_metadata(&HashMap::from([(key, value)]))
            .unwrap()
            .unwrap();
        assert_eq!(back, names);
        assert_eq!(ClassNames::from_metadata(&HashMap::new()).unwrap(), None);
        let bad = HashMap::from([(METADATA_KEY.to_string(), "{".to_string())]);
        assert!(ClassNames::from_metadata(&bad).is_err());
    }
}
