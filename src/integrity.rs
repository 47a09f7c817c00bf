//! Download integrity: a weights file's SHA-256 against the manifest's, and torchvision's
//! file-name hash prefix (`shufflenetv2_x1-5666bf0f80.pth`, as torch.hub checks it).

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash prefix torchvision puts in a file name (`-<hex>.` in the last path segment),
/// if the URL's file name has one.
pub fn torchvision_hash_prefix(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    let (stem, _ext) = name.rsplit_once('.')?;
    let (_, prefix) = stem.rsplit_once('-')?;
    let hex = prefix.len() >= 8 && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then_some(prefix)
}

/// Checks `bytes` (downloaded from `url`) against the expected full SHA-256, when given, and
/// against the hash prefix in the file name, when it has one.
pub fn verify(bytes: &[u8], url: &str, expected_sha256: Option<&str>) -> Result<()> {
    let prefix = torchvision_hash_prefix(url);
    if expected_sha256.is_none() && prefix.is_none() {
        return Ok(());
    }
    let actual = sha256_hex(bytes);
    if let Some(want) = expected_sha256 {
        if !actual.eq_ignore_ascii_case(want.trim()) {
            return Err(Error::Corrupt(format!(
                "{url}: SHA-256 is {actual}, the manifest says {want}"
            )));
        }
    }
    if let Some(p) = prefix {
        if !actual.starts_with(&p.to_ascii_lowercase()) {
            return Err(Error::Corrupt(format!(
                "{url}: SHA-256 is {actual}, the file name says it starts with {p}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_of_a_known_vector() {
        assert_eq!(sha256_hex(b"abc"), ABC);
    }

    #[test]
    fn hash_prefix_from_torchvision_file_names() {
        let url = "https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth";
        assert_eq!(torchvision_hash_prefix(url), Some("5666bf0f80"));
        assert_eq!(
            torchvision_hash_prefix("w/a-5666bf0f80.pth?v=2"),
            Some("5666bf0f80")
        );
        assert_eq!(
            torchvision_hash_prefix("weights/shufflenetv2_x1.0.safetensors"),
            None
        );
        assert_eq!(torchvision_hash_prefix("my-model.pth"), None);
        assert_eq!(torchvision_hash_prefix("a-5666bf0f80/model.pth"), None);
    }

    #[test]
    fn verify_accepts_matching_and_refuses_mismatching_hashes() {
        verify(b"abc", "x.safetensors", Some(ABC)).unwrap();
        verify(b"abc", "x.safetensors", Some(&ABC.to_uppercase())).unwrap();
        verify(b"abc", "m-ba7816bf8f.pth", None).unwrap();
        verify(b"anything", "x.safetensors", None).unwrap();

        let err = verify(b"abd", "x.safetensors", Some(ABC)).unwrap_err();
        assert!(err.to_string().contains("the manifest says"), "{err}");
        let err = verify(b"abd", "m-ba7816bf8f.pth", None).unwrap_err();
        assert!(err.to_string().contains("file name says"), "{err}");
    }
}
