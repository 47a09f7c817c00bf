//! Writes `torch.save` files the way PyTorch lays them out (a protocol-2 pickle in a stored
//! zip, or the legacy stream), from tensors the test describes: honest ones for the positive
//! tests, and hostile ones (shared storages, wrapper dicts, bombs) made on the fly.

/// Pickle opcodes used here.
pub mod op {
    pub const PROTO: u8 = 0x80;
    pub const STOP: u8 = b'.';
    pub const MARK: u8 = b'(';
    pub const NONE: u8 = b'N';
    pub const NEWFALSE: u8 = 0x89;
    pub const BININT: u8 = b'J';
    pub const LONG1: u8 = 0x8a;
    pub const BINUNICODE: u8 = b'X';
    pub const BINBYTES: u8 = b'B';
    pub const GLOBAL: u8 = b'c';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_LIST: u8 = b']';
    pub const APPENDS: u8 = b'e';
    pub const EMPTY_DICT: u8 = b'}';
    pub const SETITEMS: u8 = b'u';
    pub const LONG_BINPUT: u8 = b'r';
    pub const LONG_BINGET: u8 = b'j';
    pub const REDUCE: u8 = b'R';
    pub const BINPERSID: u8 = b'Q';
    pub const POP: u8 = b'0';
}

/// A pickle being written, opcode by opcode.
#[derive(Default)]
pub struct Pickle(pub Vec<u8>);

impl Pickle {
    pub fn new() -> Pickle {
        Pickle(vec![op::PROTO, 2])
    }

    pub fn op(&mut self, op: u8) -> &mut Self {
        self.0.push(op);
        self
    }

    pub fn int(&mut self, v: i32) -> &mut Self {
        self.0.push(op::BININT);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A Python int of any size up to i64, as LONG1 writes it.
    pub fn long(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&[op::LONG1, 8]);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.0.push(op::BINUNICODE);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.0.push(op::GLOBAL);
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self
    }

    pub fn put(&mut self, idx: u32) -> &mut Self {
        self.0.push(op::LONG_BINPUT);
        self.0.extend_from_slice(&idx.to_le_bytes());
        self
    }

    pub fn get(&mut self, idx: u32) -> &mut Self {
        self.0.push(op::LONG_BINGET);
        self.0.extend_from_slice(&idx.to_le_bytes());
        self
    }

    /// A tuple of ints (a shape or stride).
    pub fn ints(&mut self, v: &[i64]) -> &mut Self {
        self.op(op::MARK);
        for x in v {
            self.long(*x);
        }
        self.op(op::TUPLE)
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())`
    /// on the persistent storage `key`.
    pub fn tensor(&mut self, t: &View) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .op(op::MARK);
        self.op(op::MARK).str("storage");
        self.global("torch", t.class).str(&t.key).str("cpu");
        self.long(t.storage_numel).op(op::TUPLE).op(op::BINPERSID);
        self.long(t.offset).ints(&t.shape).ints(&t.stride);
        self.op(op::NEWFALSE);
        self.global("collections", "OrderedDict")
            .op(op::EMPTY_TUPLE)
            .op(op::REDUCE);
        self.op(op::TUPLE).op(op::REDUCE)
    }

    /// `{name: tensor, ...}` (an OrderedDict, as state_dict() returns).
    pub fn state_dict(&mut self, views: &[(String, View)]) -> &mut Self {
        self.global("collections", "OrderedDict")
            .op(op::EMPTY_TUPLE)
            .op(op::REDUCE);
        self.op(op::MARK);
        for (name, v) in views {
            self.str(name).tensor(v);
        }
        self.op(op::SETITEMS)
    }

    pub fn stop(&mut self) -> Vec<u8> {
        self.op(op::STOP);
        std::mem::take(&mut self.0)
    }
}

/// One tensor as a view of a storage.
#[derive(Clone, Debug)]
pub struct View {
    /// `FloatStorage`, `HalfStorage`, `LongStorage`.
    pub class: &'static str,
    pub key: String,
    pub storage_numel: i64,
    pub offset: i64,
    pub shape: Vec<i64>,
    pub stride: Vec<i64>,
}

impl View {
    /// A contiguous F32 view of `shape` at `offset` of storage `key`.
    pub fn f32(key: &str, storage_numel: usize, offset: usize, shape: &[usize]) -> View {
        let mut stride = vec![1i64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * shape[i + 1] as i64;
        }
        View {
            class: "FloatStorage",
            key: key.into(),
            storage_numel: storage_numel as i64,
            offset: offset as i64,
            shape: shape.iter().map(|d| *d as i64).collect(),
            stride,
        }
    }
}

/// How the state_dict sits in the pickle.
#[derive(Clone, Copy)]
pub enum Wrap {
    Bare,
    /// `{"state_dict": sd, "epoch": 3}`, as training checkpoints hold it.
    Under(&'static str),
}

/// The data.pkl of a `torch.save(obj)` where obj is the state_dict or a checkpoint around it.
pub fn state_dict_pickle(views: &[(String, View)], wrap: Wrap) -> Vec<u8> {
    let mut p = Pickle::new();
    match wrap {
        Wrap::Bare => {
            p.state_dict(views);
        }
        Wrap::Under(key) => {
            p.op(op::EMPTY_DICT)
                .op(op::MARK)
                .str("epoch")
                .int(3)
                .str(key);
            p.state_dict(views);
            p.op(op::SETITEMS);
        }
    }
    p.stop()
}

/// A stored (uncompressed) zip of the given entries, as torch.save writes it.
pub fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let le16 = |v: usize| (v as u16).to_le_bytes();
    let le32 = |v: usize| (v as u32).to_le_bytes();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32(data) as usize;
        let at = out.len();
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&le16(20));
        out.extend_from_slice(&[0; 8]); // flags, method (stored), time, date
        for v in [crc, data.len(), data.len()] {
            out.extend_from_slice(&le32(v));
        }
        out.extend_from_slice(&le16(name.len()));
        out.extend_from_slice(&le16(0));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&le16(20));
        central.extend_from_slice(&le16(20));
        central.extend_from_slice(&[0; 8]);
        for v in [crc, data.len(), data.len()] {
            central.extend_from_slice(&le32(v));
        }
        central.extend_from_slice(&le16(name.len()));
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&le32(at));
        central.extend_from_slice(name.as_bytes());
    }
    let cd = out.len();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&le16(entries.len()));
    out.extend_from_slice(&le16(entries.len()));
    out.extend_from_slice(&le32(central.len()));
    out.extend_from_slice(&le32(cd));
    out.extend_from_slice(&le16(0));
    out
}

/// A torch zip: `archive/data.pkl` and one `archive/data/<key>` per storage.
pub fn torch_zip(pickle: Vec<u8>, storages: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![("archive/data.pkl".to_string(), pickle)];
    for (key, bytes) in storages {
        entries.push((format!("archive/data/{key}"), bytes.clone()));
    }
    zip(&entries)
}

/// The legacy stream: magic, protocol, system info, the state_dict pickle, the storage
/// keys, then each storage as an element count and its bytes.
pub fn torch_legacy(state_dict: Vec<u8>, storages: &[(String, Vec<u8>, usize)]) -> Vec<u8> {
    let mut out = Pickle::new();
    out.0.extend_from_slice(&[op::LONG1, 10]);
    out.0
        .extend_from_slice(&0x1950a86a20f9469cfc6c_u128.to_le_bytes()[..10]);
    let mut out = out.stop();
    out.extend(Pickle::new().int(1001).stop());
    out.extend(Pickle::new().op(op::EMPTY_DICT).stop());
    out.extend(state_dict);
    let mut keys = Pickle::new();
    keys.op(op::EMPTY_LIST).op(op::MARK);
    for (key, ..) in storages {
        keys.str(key);
    }
    out.extend(keys.op(op::APPENDS).stop());
    for (_, bytes, elem) in storages {
        out.extend_from_slice(&((bytes.len() / elem) as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
