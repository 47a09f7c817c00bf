//! What a person reads when a file is not usable weights: a plain sentence first (what the
//! file is, or where it is cut short), the evidence (bytes, the parser's words) after it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use shufflenet_web::model::{Arch, Width};
use shufflenet_web::{weights, Error};

fn refuse(bytes: &[u8]) -> Error {
    match weights::load(bytes) {
        Ok(_) => panic!("loaded {} bytes that are not weights", bytes.len()),
        Err(e) => e,
    }
}

/// The page's first line, and the lines after it.
fn for_page(e: &Error) -> (String, String) {
    let text = e.for_page();
    let (plain, details) = text.split_once('\n').unwrap_or((&text, ""));
    (plain.to_string(), details.to_string())
}

#[test]
fn foreign_files_are_named_in_plain_words() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"hello, these are my notes\nline two\n",
            "this is a text file, not PyTorch weights",
        ),
        (
            b"<!doctype html><html><body>404</body></html>",
            "this is a web page (HTML)",
        ),
        (
            br#"{"0": "daisy", "1": "rose"}"#,
            "this is a JSON text file",
        ),
        (
            &[0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13],
            "this is a picture",
        ),
        (
            &[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xff, 0xfe],
            "neither safetensors nor a PyTorch .pth",
        ),
    ];
    for (bytes, want) in cases {
        let e = refuse(bytes);
        let (plain, details) = for_page(&e);
        assert!(plain.contains(want), "{plain}");
        assert!(
            !plain.contains("0x") && !plain.contains('['),
            "no bytes in the sentence: {plain}"
        );
        assert!(
            details.starts_with("first bytes: ["),
            "the evidence is kept: {details}"
        );
        // The CLI's one line has both.
        let line = e.to_string();
        assert!(
            !line.contains('\n') && line.contains(want) && line.contains("first bytes"),
            "{line}"
        );
    }
}

#[test]
fn a_cut_short_safetensors_file_says_where() {
    let sd = weights::random::state_dict(&Arch::width(Width::X0_5), 1);
    let whole = weights::write_safetensors(&sd, true, None, None).unwrap();
    for at in [100_000, whole.len() - 1] {
        let e = refuse(&whole[..at]);
        let (plain, details) = for_page(&e);
        assert_eq!(
            plain,
            format!("the file is cut short at byte {at} of {}", whole.len())
        );
        assert!(details.contains("safetensors"), "{details}");
    }
    // Cut inside the header: the header's own length is what it needed at least.
    let e = refuse(&whole[..20]);
    assert!(matches!(e, Error::Truncated { at: 20, .. }), "{e}");
    assert!(weights::load(&whole).is_ok());
}

#[test]
fn a_cut_short_pth_file_is_damaged_not_foreign() {
    let pth = include_bytes!("fixtures/small.pth");
    let e = refuse(&pth[..pth.len() / 2]);
    let (plain, details) = for_page(&e);
    assert!(
        plain.starts_with("the file is damaged or incomplete"),
        "{plain}"
    );
    assert!(details.contains("zip"), "{details}");
}

#[test]
fn a_damaged_pth_file_that_is_whole_is_damaged_not_cut() {
    let mut pth = include_bytes!("fixtures/small.pth").to_vec();
    // The end record's signature gone: every record is there, the archive will not open.
    let end = pth.len() - 22;
    assert_eq!(&pth[end..end + 4], b"PK\x05\x06");
    pth[end] = b'X';
    let (plain, details) = for_page(&refuse(&pth));
    assert!(
        plain.starts_with("the file is damaged or incomplete"),
        "{plain}"
    );
    assert!(details.contains("zip"), "{details}");
}

#[test]
fn weights_of_another_network_say_so_and_name_the_tensors_below() {
    let mut sd = weights::random::state_dict(&Arch::width(Width::X0_5), 1);
    let name = sd
        .tensors
        .keys()
        .find(|k| k.contains("stage3"))
        .unwrap()
        .clone();
    sd.tensors.remove(&name);
    let bytes = weights::write_safetensors(&sd, true, None, None).unwrap();
    let e = refuse(&bytes);
    let (plain, details) = for_page(&e);
    assert_eq!(
        plain,
        "these are not ShuffleNetV2 weights this page can run"
    );
    assert!(details.contains(&name), "{details}");
}
