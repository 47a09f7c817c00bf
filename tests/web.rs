//! The JavaScript API in the browser: loading, classifying, and failing cleanly.
#![cfg(target_arch = "wasm32")]

mod common;

use common::fixtures;
use js_sys::Reflect;
use shufflenet_web::web::WebEngine as Engine;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn frame() -> Vec<u8> {
    (0..64 * 48 * 4).map(|i| (i * 31 % 256) as u8).collect()
}

fn data_url(bytes: &[u8]) -> String {
    let b64 = js_sys::global()
        .dyn_into::<web_sys::Window>()
        .unwrap()
        .btoa(&bytes.iter().map(|b| *b as char).collect::<String>())
        .unwrap();
    format!("data:application/octet-stream;base64,{b64}")
}

#[wasm_bindgen_test]
async fn loads_bytes_and_classifies_a_frame() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let info = JsValue::from(e.load_bytes(fixtures::SMALL_PTH.to_vec()).await.unwrap());
    assert_eq!(get(&info, "classes").as_f64(), Some(10.0));
    assert_eq!(get(&info, "dtype").as_string().as_deref(), Some("F32"));
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 3, None, None)
            .await
            .unwrap(),
    );
    let top: js_sys::Array = get(&p, "top").dyn_into().unwrap();
    assert_eq!(top.length(), 3);
    let probs: Vec<f64> = top
        .iter()
        .map(|t| get(&t, "prob").as_f64().unwrap())
        .collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "{probs:?}");
    for s in ["stem", "stage2", "stage3", "stage4", "head"] {
        assert!(get(&get(&p, "stages"), s).as_f64().unwrap() >= 0.0);
    }
    assert!(get(&p, "backend").as_string().unwrap().starts_with("cpu"));
    // The typed result reaches JavaScript as a plain object with the .d.ts's field names.
    assert!(get(&p, "totalMs").as_f64().unwrap() >= 0.0);
    assert_eq!(get(&p, "framesAveraged").as_f64(), Some(1.0));
    assert!(
        get(&p, "kernels").is_undefined(),
        "no kernel set on the CPU"
    );
}

#[wasm_bindgen_test]
async fn a_bad_load_keeps_the_previous_model() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    e.load_bytes(fixtures::SMALL_F32.to_vec()).await.unwrap();
    let before = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 1, None, None)
            .await
            .unwrap(),
    );
    let err = e
        .load_bytes(b"<!DOCTYPE html><p>404</p>".to_vec())
        .await
        .err()
        .expect("HTML is refused");
    let msg = JsValue::from(err)
        .dyn_into::<js_sys::Error>()
        .unwrap()
        .message();
    assert!(String::from(msg).contains("HTML"));
    let truncated = fixtures::SMALL_F32[..5000].to_vec();
    assert!(e.load_bytes(truncated).await.is_err());
    let after = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 1, None, None)
            .await
            .unwrap(),
    );
    let index = |p: &JsValue| get(&js_sys::Array::from(&get(p, "top")).get(0), "index");
    assert_eq!(index(&before), index(&after));
    assert_eq!(
        get(&e.info().unwrap().into(), "classes").as_f64(),
        Some(10.0)
    );
}

#[wasm_bindgen_test]
async fn load_url_streams_with_progress() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<f64>::new()));
    let s = seen.clone();
    let cb = Closure::<dyn FnMut(f64, JsValue)>::new(move |loaded: f64, _total: JsValue| {
        s.borrow_mut().push(loaded);
    });
    let loaded = e
        .load_url(
            data_url(fixtures::SMALL_F16),
            Some(cb.as_ref().unchecked_ref::<js_sys::Function>().clone()),
            Some(shufflenet_web::integrity::sha256_hex(fixtures::SMALL_F16)),
            None,
        )
        .await
        .unwrap();
    let loaded = JsValue::from(loaded);
    assert_eq!(get(&loaded, "cached").as_bool(), Some(false));
    let info = get(&loaded, "info");
    assert_eq!(get(&info, "dtype").as_string().as_deref(), Some("F16"));
    let seen = seen.borrow();
    assert!(!seen.is_empty(), "no progress reported");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*seen.last().unwrap() as usize, fixtures::SMALL_F16.len());
}

/// A download the page started before the engine existed is read, not requested again: the
/// URL here names nothing, so only the started response can supply the bytes.
#[wasm_bindgen_test]
async fn load_url_reads_a_started_download() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let body = js_sys::Uint8Array::from(fixtures::SMALL_F16);
    let started = web_sys::Response::new_with_opt_buffer_source(Some(&body)).unwrap();
    let url = "/started/nowhere.safetensors".to_string();
    let sha = shufflenet_web::integrity::sha256_hex(fixtures::SMALL_F16);
    let loaded = e
        .load_url(url.clone(), None, Some(sha), Some(started))
        .await
        .unwrap();
    let info = get(&JsValue::from(loaded), "info");
    assert_eq!(get(&info, "dtype").as_string().as_deref(), Some("F16"));

    // A started download that failed reports its status, as a fresh request would.
    let init = web_sys::ResponseInit::new();
    init.set_status(503);
    let failed = web_sys::Response::new_with_opt_str_and_init(Some("busy"), &init).unwrap();
    let err = e
        .load_url(url, None, None, Some(failed))
        .await
        .err()
        .unwrap();
    let msg = message(err);
    assert!(msg.contains("503"), "{msg}");
}

#[wasm_bindgen_test]
async fn load_url_refuses_a_sha256_mismatch_and_keeps_the_model() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    e.load_bytes(fixtures::SMALL_F32.to_vec()).await.unwrap();
    let wrong = shufflenet_web::integrity::sha256_hex(b"other bytes");
    let err = e
        .load_url(data_url(fixtures::SMALL_F16), None, Some(wrong), None)
        .await
        .err()
        .unwrap();
    let msg = message(err);
    assert!(msg.contains("SHA-256"), "{msg}");
    assert_eq!(
        get(&e.info().unwrap().into(), "dtype")
            .as_string()
            .as_deref(),
        Some("F32")
    );
}

#[wasm_bindgen_test]
async fn errors_reach_javascript_as_messages() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let no_model = e
        .classify_rgba(frame(), 64, 48, 1, None, None)
        .await
        .err()
        .unwrap();
    let msg = message(no_model);
    assert!(msg.contains("no model loaded"), "{msg}");
    let missing = e
        .load_url("/no/such/weights.safetensors".into(), None, None, None)
        .await
        .err()
        .unwrap();
    let msg = message(missing);
    assert!(msg.contains("404"), "{msg}");
    e.load_bytes(fixtures::SMALL_F32.to_vec()).await.unwrap();
    let bad = e
        .classify_rgba(vec![0; 10], 64, 48, 1, None, None)
        .await
        .err()
        .unwrap();
    let msg = message(bad);
    assert!(msg.contains("bytes of pixels"), "{msg}");
    // A batch one value short of its shape is refused; the engine runs the next one.
    let side = 32;
    let len = 3 * side * side;
    let short = js_sys::Float32Array::new_with_length(len as u32 - 1);
    let msg = message(e.run_tensor(short, 1, side, side).await.err().unwrap());
    assert!(msg.contains("does not match"), "{msg}");
    let good = js_sys::Float32Array::new_with_length(len as u32);
    let out = JsValue::from(e.run_tensor(good, 1, side, side).await.unwrap());
    let logits: js_sys::Float32Array = get(&out, "logits").dyn_into().unwrap();
    assert_eq!(
        logits.length() as f64,
        get(&out, "classes").as_f64().unwrap()
    );
    assert!(Engine::create(Some("tpu".into())).await.is_err());
}

async fn bitmap(px: &[u8], w: u32, h: u32) -> web_sys::ImageBitmap {
    let data =
        web_sys::ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(px), w, h)
            .unwrap();
    let window: web_sys::Window = js_sys::global().dyn_into().unwrap();
    let p = window.create_image_bitmap_with_image_data(&data).unwrap();
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .unwrap()
        .dyn_into()
        .unwrap()
}

#[wasm_bindgen_test]
async fn image_bitmaps_classify_like_their_pixels_on_both_backends() {
    // Opaque pixels: a bitmap of translucent ones may be premultiplied by the browser.
    let mut px = frame();
    px.chunks_exact_mut(4).for_each(|p| p[3] = 255);
    for backend in ["cpu", "webgpu"] {
        let e = Engine::create(Some(backend.into())).await.unwrap();
        e.load_bytes(fixtures::SMALL_F32.to_vec()).await.unwrap();
        let a = JsValue::from(
            e.classify_rgba(px.clone(), 64, 48, 10, None, None)
                .await
                .unwrap(),
        );
        let b = e
            .classify_bitmap(bitmap(&px, 64, 48).await, 10, None, None)
            .await
            .map(JsValue::from)
            .unwrap();
        let used = get(&b, "backend").as_string().unwrap();
        assert!(used.starts_with(backend), "asked {backend}, ran {used}");
        let probs = |p: &JsValue| -> Vec<(f64, f64)> {
            js_sys::Array::from(&get(p, "top"))
                .iter()
                .map(|t| {
                    (
                        get(&t, "index").as_f64().unwrap(),
                        get(&t, "prob").as_f64().unwrap(),
                    )
                })
                .collect()
        };
        for ((ia, pa), (ib, pb)) in probs(&a).into_iter().zip(probs(&b)) {
            assert_eq!(ia, ib, "{backend}: class order differs");
            assert!((pa - pb).abs() < 1e-5, "{backend}: {pa} vs {pb}");
        }
    }
}

/// (index, name) of each row of a prediction's top-k.
fn top_names(p: &JsValue) -> Vec<(u32, String)> {
    let top: js_sys::Array = get(p, "top").dyn_into().unwrap();
    top.iter()
        .map(|t| {
            let index = get(&t, "index").as_f64().unwrap() as u32;
            (index, get(&t, "name").as_string().unwrap())
        })
        .collect()
}

#[wasm_bindgen_test]
async fn a_names_file_names_the_predictions_and_a_wrong_count_changes_nothing() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let info = JsValue::from(e.load_bytes(fixtures::SMALL_PTH.to_vec()).await.unwrap());
    assert_eq!(
        get(&info, "classNames").as_string().as_deref(),
        Some("numbered")
    );
    // A 10-class head: top-20 is capped at 10, each row "class N".
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 20, None, None)
            .await
            .unwrap(),
    );
    let before = top_names(&p);
    assert_eq!(before.len(), 10);
    assert!(
        before.iter().all(|(i, n)| *n == format!("class {i}")),
        "{before:?}"
    );

    let labels: String = (0..10).map(|i| format!("thing {i}\n")).collect();
    let info = JsValue::from(
        e.set_class_names(labels.into_bytes(), "labels.txt".into())
            .unwrap(),
    );
    assert_eq!(
        get(&info, "classNames").as_string().as_deref(),
        Some("given")
    );
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 3, None, None)
            .await
            .unwrap(),
    );
    let named = top_names(&p);
    assert_eq!(named.len(), 3);
    for ((i, n), (j, _)) in named.iter().zip(&before) {
        assert_eq!((i, n.as_str()), (j, format!("thing {i}").as_str()));
    }

    let err = JsValue::from(
        e.set_class_names(
            br#"{"0": "a", "1": "b"}"#.to_vec(),
            "class_indices.json".into(),
        )
        .err()
        .expect("two names for ten outputs"),
    );
    let message = get(&err, "message").as_string().unwrap();
    assert!(
        message.contains("class_indices.json")
            && message.contains("2 names")
            && message.contains("10 outputs"),
        "{message}"
    );
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 3, None, None)
            .await
            .unwrap(),
    );
    assert_eq!(top_names(&p), named, "the previous names stay");
}

/// A 64 x 48 frame of one colour with a little pixel noise.
fn tinted(rgb: [u8; 3], seed: usize) -> Vec<u8> {
    (0..64 * 48)
        .flat_map(|i| {
            let n = ((i * 7919 + seed * 104_729) % 41) as u8;
            [
                rgb[0].saturating_add(n),
                rgb[1].saturating_add(n),
                rgb[2].saturating_add(n),
                255,
            ]
        })
        .collect()
}

#[wasm_bindgen_test]
async fn teach_runs_a_taught_head_switches_back_and_exports_it() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    e.load_bytes(fixtures::SMALL_PTH.to_vec()).await.unwrap();
    let colours = [[200, 40, 30], [30, 60, 200]];
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    for (label, rgb) in colours.iter().enumerate() {
        for seed in 0..6 {
            let p = JsValue::from(
                e.classify_rgba(tinted(*rgb, seed), 64, 48, 1, None, Some(true))
                    .await
                    .unwrap(),
            );
            let f: Vec<f32> = js_sys::Array::from(&get(&p, "features"))
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            features.extend(f);
            labels.push(label as u32);
        }
    }
    let names = || vec!["red".to_string(), "blue".to_string()];
    // A class without samples is refused, and the file's head keeps running.
    let err = JsValue::from(
        e.teach(features.clone(), vec![0; 12], names(), 0.3, 1)
            .await
            .err()
            .unwrap(),
    );
    assert!(
        get(&err, "message")
            .as_string()
            .unwrap()
            .contains("class 1 has no samples"),
        "{err:?}"
    );
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 20, None, None)
            .await
            .unwrap(),
    );
    assert_eq!(top_names(&p).len(), 10);

    let t = JsValue::from(e.teach(features, labels, names(), 0.34, 1).await.unwrap());
    assert_eq!(
        get(&t, "heldOutTotal").as_f64(),
        Some(4.0),
        "2 of 6 per class"
    );
    assert_eq!(get(&get(&t, "info"), "classes").as_f64(), Some(2.0));
    let taught = |rgb| {
        let e = &e;
        async move {
            JsValue::from(
                e.classify_rgba(tinted(rgb, 9), 64, 48, 5, None, None)
                    .await
                    .unwrap(),
            )
        }
    };
    let red = taught(colours[0]).await;
    assert_eq!(top_names(&red)[0].1, "red");
    assert_eq!(
        top_names(&red).len(),
        2,
        "top-k is capped at the taught classes"
    );
    assert_eq!(top_names(&taught(colours[1]).await)[0].1, "blue");

    let exported = e.export_model().unwrap();
    let info = JsValue::from(e.restore_head().await.unwrap());
    assert_eq!(get(&info, "classes").as_f64(), Some(10.0));
    let p = JsValue::from(
        e.classify_rgba(frame(), 64, 48, 20, None, None)
            .await
            .unwrap(),
    );
    assert_eq!(top_names(&p).len(), 10, "the file's own head runs again");

    // The export loads as a model of its own, names and all, and predicts the same.
    let again = Engine::create(Some("cpu".into())).await.unwrap();
    let info = JsValue::from(again.load_bytes(exported).await.unwrap());
    assert_eq!(
        get(&info, "classNames").as_string().as_deref(),
        Some("given")
    );
    let p = JsValue::from(
        again
            .classify_rgba(tinted(colours[0], 9), 64, 48, 5, None, None)
            .await
            .unwrap(),
    );
    assert_eq!(top_names(&p), top_names(&red));
    let prob = |p: &JsValue| get(&js_sys::Array::from(&get(p, "top")).get(0), "prob");
    let (a, b) = (prob(&p).as_f64().unwrap(), prob(&red).as_f64().unwrap());
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

#[wasm_bindgen_test]
async fn the_status_travels_once_per_change_and_limits_name_the_stages() {
    let e = Engine::create(Some("cpu".into())).await.unwrap();
    let before = JsValue::from(e.status().unwrap());
    assert_eq!(get(&before, "backend").as_string().as_deref(), Some("none"));
    e.load_bytes(fixtures::SMALL_F32.to_vec()).await.unwrap();
    let classify = || async {
        JsValue::from(
            e.classify_rgba(frame(), 64, 48, 1, None, None)
                .await
                .unwrap(),
        )
    };
    // The first frame after the load carries the status the load brought; the next, none.
    let first = classify().await;
    let status = get(&first, "status");
    assert!(get(&status, "backend")
        .as_string()
        .unwrap()
        .starts_with("cpu"));
    assert_eq!(get(&status, "cpuThreads").as_f64(), Some(1.0));
    assert!(get(&status, "fallbackReason").is_undefined());
    let next = classify().await;
    assert!(get(&next, "status").is_undefined(), "unchanged: not sent");

    let limits = JsValue::from(shufflenet_web::web::limits().unwrap());
    let names = |v: JsValue| -> Vec<String> {
        js_sys::Array::from(&v)
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect()
    };
    let stages = get(&next, "stages").unchecked_into::<js_sys::Object>();
    assert_eq!(
        names(get(&limits, "stages")),
        names(js_sys::Object::keys(&stages).into())
    );
    assert_eq!(
        get(&limits, "maxWeightsBytes").as_f64(),
        Some(shufflenet_web::weights::MAX_FILE_BYTES as f64)
    );
    let widths = shufflenet_web::model::Width::ALL.map(|w| w.label());
    assert_eq!(names(get(&limits, "widths")), widths);
}

/// The message of an error the engine gave JavaScript.
fn message(err: JsError) -> String {
    String::from(
        JsValue::from(err)
            .dyn_into::<js_sys::Error>()
            .unwrap()
            .message(),
    )
}
