//! The one weights load path. With the manifest's SHA-256 the Cache API entry is keyed on the
//! hash, which names the content, so no request is needed to know a copy is current; without
//! one a HEAD asks the server for the file's ETag and the entry is keyed on that, so a file
//! replaced on the server, even by one of the same size, is downloaded again. Otherwise the file
//! streams over fetch with progress and the size cap. Bytes are verified before use and cached
//! only after they load.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheQueryOptions, RequestCache, RequestInit, Response};

use crate::integrity;
use crate::weights::MAX_FILE_BYTES;
use crate::Error;

/// Versioned: entries of an older layout are never read, and their caches are deleted.
const CACHE_NAME: &str = "shufflenet-weights-v2";
const OLD_CACHES: [&str; 1] = ["shufflenet-weights-v1"];

/// Verified bytes, where they came from, and the cache entry they belong under.
pub struct Download {
    /// Shared: the engine keeps the loaded file's bytes for exporting it.
    pub bytes: std::rc::Rc<Vec<u8>>,
    pub cached: bool,
    cache: Option<(Cache, String)>,
}

impl Download {
    /// Keeps freshly downloaded bytes (call once they have loaded), replacing older versions.
    pub async fn remember(&self, url: &str) {
        let Some((cache, key)) = &self.cache else {
            return;
        };
        if self.cached {
            return;
        }
        forget_all(cache, url).await;
        let body = Uint8Array::from(&self.bytes[..]);
        if let Ok(resp) = Response::new_with_opt_buffer_source(Some(&body)) {
            // Quota exceeded or similar: the model still runs, it just downloads again.
            let _ = JsFuture::from(cache.put_with_str(key, &resp)).await;
        }
    }

    /// Drops a cached copy that failed to load.
    pub async fn forget(&self, url: &str) {
        if let Some((cache, _)) = &self.cache {
            forget_all(cache, url).await;
        }
    }
}

/// Every cached version of `url` (they differ only in the key's query parameter).
async fn forget_all(cache: &Cache, url: &str) {
    let options = CacheQueryOptions::new();
    options.set_ignore_search(true);
    let _ = JsFuture::from(cache.delete_with_str_and_options(url, &options)).await;
}

/// Gets the file at `url` from the cache or the network, checked against `sha256` (the
/// manifest's, when given) and the torchvision hash prefix in its name. `started`: the response
/// of a download the page began while the engine was still starting, after finding no cached
/// copy; its body is read here in place of a new request.
pub async fn get(
    url: &str,
    sha256: Option<&str>,
    on_progress: Option<&js_sys::Function>,
    started: Option<Response>,
) -> Result<Download, JsError> {
    let progress = |loaded: usize, total: JsValue| {
        if let Some(cb) = on_progress {
            // A throwing progress callback must not abort the load.
            let _ = cb.call2(&JsValue::NULL, &(loaded as f64).into(), &total);
        }
    };
    let cache = open_cache().await;
    if let Some(resp) = started {
        let (bytes, etag) = read_body(url, resp, &progress).await?;
        return verified(url, sha256, bytes, cache.zip(key(url, sha256, etag)));
    }
    // The hash names the content: no need to ask the server which version is current.
    let etag = match sha256 {
        Some(_) => None,
        None => head_etag(url).await,
    };
    let unasked = etag.is_none();

    if let (Some(cache), Some(key)) = (&cache, key(url, sha256, etag)) {
        // Not asked (the hash is known, or the server is offline): a copy kept under an
        // earlier key serves if it matches the manifest's SHA-256.
        let hit = match cached_bytes(cache, &key).await {
            None if unasked && sha256.is_some() => cached_any_version(cache, url).await,
            hit => hit,
        };
        if let Some(bytes) = hit {
            if integrity::verify(&bytes, url, sha256).is_ok() {
                progress(bytes.len(), (bytes.len() as f64).into());
                let cache = Some((cache.clone(), key));
                return Ok(Download {
                    bytes: bytes.into(),
                    cached: true,
                    cache,
                });
            }
            forget_all(cache, url).await;
        }
    }

    let (bytes, etag) = download(url, &progress).await?;
    verified(url, sha256, bytes, cache.zip(key(url, sha256, etag)))
}

/// Freshly downloaded bytes, once they pass the integrity check.
fn verified(
    url: &str,
    sha256: Option<&str>,
    bytes: Vec<u8>,
    cache: Option<(Cache, String)>,
) -> Result<Download, JsError> {
    integrity::verify(&bytes, url, sha256).map_err(js_err)?;
    Ok(Download {
        bytes: bytes.into(),
        cached: false,
        cache,
    })
}

/// The Cache API key of `url`'s copy: the ETag the server gave, else the manifest's hash.
fn key(url: &str, sha256: Option<&str>, etag: Option<String>) -> Option<String> {
    let tag = etag
        .map(|e| format!("etag:{e}"))
        .or_else(|| sha256.map(|s| format!("sha256:{}", s.to_ascii_lowercase())))?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{sep}shufflenet-cache={}",
        js_sys::encode_uri_component(&tag)
    ))
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The page's or worker's Cache API, or `None` where there is none (insecure context,
/// storage disabled): then every load downloads.
async fn open_cache() -> Option<Cache> {
    let caches = Reflect::get(&js_sys::global(), &"caches".into()).ok()?;
    let caches: web_sys::CacheStorage = caches.dyn_into().ok()?;
    for old in OLD_CACHES {
        let _ = JsFuture::from(caches.delete(old)).await;
    }
    JsFuture::from(caches.open(CACHE_NAME))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

async fn cached_bytes(cache: &Cache, key: &str) -> Option<Vec<u8>> {
    body_of(cache.match_with_str(key)).await
}

/// The body of the response a cache lookup resolves to, if it found one.
async fn body_of(lookup: js_sys::Promise) -> Option<Vec<u8>> {
    let hit: Response = JsFuture::from(lookup).await.ok()?.dyn_into().ok()?;
    let buf = JsFuture::from(hit.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buf).to_vec())
}

/// Any cached version of `url`, whatever validator its key carries.
async fn cached_any_version(cache: &Cache, url: &str) -> Option<Vec<u8>> {
    let options = CacheQueryOptions::new();
    options.set_ignore_search(true);
    body_of(cache.match_with_str_and_options(url, &options)).await
}

/// `fetch` in a window or a worker, bypassing the HTTP cache (the Cache API is ours).
async fn fetch(url: &str, method: &str) -> Result<Response, String> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_cache(RequestCache::NoStore);
    let global = js_sys::global();
    let promise = if let Some(w) = global.dyn_ref::<web_sys::Window>() {
        w.fetch_with_str_and_init(url, &init)
    } else if let Some(w) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        w.fetch_with_str_and_init(url, &init)
    } else {
        return Err("no fetch in this JavaScript context".into());
    };
    let resp = JsFuture::from(promise).await.map_err(|e| describe(&e))?;
    resp.dyn_into().map_err(|e| describe(&e))
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).ok().flatten()
}

/// The server's ETag for `url`, or `None` when it sends none or cannot be asked.
async fn head_etag(url: &str) -> Option<String> {
    let resp = fetch(url, "HEAD").await.ok()?;
    if resp.ok() {
        header(&resp, "etag")
    } else {
        None
    }
}

fn too_large(url: &str) -> JsError {
    js_err(Error::NotWeights(format!(
        "{url} is larger than any ShuffleNetV2 weights file ({MAX_FILE_BYTES} bytes)"
    )))
}

/// Fetches `url` and reads its body (see `read_body`).
async fn download(
    url: &str,
    progress: &dyn Fn(usize, JsValue),
) -> Result<(Vec<u8>, Option<String>), JsError> {
    let resp = fetch(url, "GET")
        .await
        .map_err(|e| JsError::new(&format!("fetching {url}: network error: {e}")))?;
    read_body(url, resp, progress).await
}

/// Streams the body, refusing a file over the cap from its Content-Length or as it grows.
/// Returns the bytes and the response's ETag.
async fn read_body(
    url: &str,
    resp: Response,
    progress: &dyn Fn(usize, JsValue),
) -> Result<(Vec<u8>, Option<String>), JsError> {
    let fail =
        |what: &str, e: &JsValue| JsError::new(&format!("fetching {url}: {what}: {}", describe(e)));
    if !resp.ok() {
        return Err(JsError::new(&format!(
            "fetching {url}: HTTP {} {}",
            resp.status(),
            resp.status_text()
        )));
    }
    let body = resp
        .body()
        .ok_or_else(|| JsError::new(&format!("fetching {url}: the response has no body")))?;
    let total = header(&resp, "content-length").and_then(|v| v.parse::<f64>().ok());
    if total.is_some_and(|t| t > MAX_FILE_BYTES as f64) {
        let _ = body.cancel();
        return Err(too_large(url));
    }
    let total_js = total.map_or(JsValue::UNDEFINED, JsValue::from);
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.map_or(0, |t| t as usize));
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail("read error", &e))?;
        let done = Reflect::get(&chunk, &"done".into()).map_err(|e| fail("read error", &e))?;
        if done.as_bool() == Some(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| fail("read error", &e))?
            .unchecked_into();
        if bytes.len() + value.length() as usize > MAX_FILE_BYTES {
            let _ = reader.cancel();
            return Err(too_large(url));
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(bytes.len(), total_js.clone());
    }
    Ok((bytes, header(&resp, "etag")))
}
