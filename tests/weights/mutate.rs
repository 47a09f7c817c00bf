//! Structured mutations of real weights files, for the fuzz replay in `weights.rs`: pickle
//! opcodes (zip `data.pkl` and the legacy stream's state_dict pickle) and safetensors
//! header fields are changed where they mean something, not as random bytes, so the
//! mutants get past the framing into the readers' bookkeeping.

use std::io::Read;

use super::torch_save;

/// xorshift64: deterministic, so a failure names a reproducible case.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Integers that break size arithmetic.
const EXTREMES: [u64; 9] = [
    0,
    1,
    2,
    255,
    1 << 31,
    u32::MAX as u64,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

/// One opcode with its argument bytes, as a slice of the pickle.
fn op_len(p: &[u8], at: usize) -> Option<usize> {
    let arg = |n: usize| Some(1 + n);
    let counted = |width: usize| -> Option<usize> {
        let b = p.get(at + 1..at + 1 + width)?;
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(b);
        Some(1 + width + u64::from_le_bytes(v) as usize)
    };
    match *p.get(at)? {
        0x80 | b'K' | b'q' | b'h' => arg(1),
        b'M' => arg(2),
        b'J' | b'r' | b'j' => arg(4),
        b'G' | 0x95 => arg(8),
        0x8a | 0x8c | b'U' | b'C' => counted(1),
        b'X' | b'T' | b'B' => counted(4),
        b'c' => {
            let first = p[at + 1..].iter().position(|b| *b == b'\n')?;
            let second = p[at + 2 + first..].iter().position(|b| *b == b'\n')?;
            Some(first + second + 3)
        }
        _ => Some(1),
    }
}

/// The pickle at the start of `p` as opcodes, up to and including STOP.
pub fn ops(p: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(n) = op_len(p, at).filter(|n| at + n <= p.len()) {
        out.push(p[at..at + n].to_vec());
        at += n;
        if out.last().unwrap()[0] == b'.' {
            break;
        }
    }
    out
}

/// Opcodes worth inserting: structure, memo and calls.
const INSERTS: [&[u8]; 12] = [
    b"(",
    b"t",
    b"2",
    b"0",
    b"1",
    b"u",
    b"e",
    b"R",
    b"}",
    b"Q",
    &[0x94],
    b"N",
];

/// One to three changes to a pickle's opcodes.
pub fn mutate_pickle(rng: &mut Rng, pickle: &[u8]) -> Vec<u8> {
    let mut ops = ops(pickle);
    for _ in 0..1 + rng.below(3) {
        let n = ops.len();
        let i = rng.below(n);
        match rng.below(6) {
            0 => {
                ops.remove(i);
            }
            1 => ops.insert(i, ops[i].clone()),
            2 => ops.swap(i, rng.below(n)),
            3 => ops.insert(i, INSERTS[rng.below(INSERTS.len())].to_vec()),
            4 => {
                // An integer argument (value, memo index or length) set to an extreme.
                let op = &mut ops[i];
                let width = match op[0] {
                    b'K' | b'q' | b'h' | 0x8c | b'U' | b'C' => 1,
                    b'M' => 2,
                    b'J' | b'r' | b'j' | b'X' | b'T' | b'B' => 4,
                    0x8a => op.len() - 2,
                    _ => 0,
                };
                let start = if op[0] == 0x8a { 2 } else { 1 };
                let v = EXTREMES[rng.below(EXTREMES.len())].to_le_bytes();
                let w = width.min(8);
                op[start..start + w].copy_from_slice(&v[..w]);
            }
            _ => {
                // The same op elsewhere: a memo GET or a storage key pointing somewhere else.
                let j = rng.below(n);
                let moved = ops.remove(i);
                ops.insert(j.min(ops.len()), moved);
            }
        }
        if ops.is_empty() {
            break;
        }
    }
    ops.concat()
}

/// A zip's entries as (name, bytes).
pub fn unzip(file: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(file)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().into_owned(), data)
        })
        .collect()
}

/// A torch zip with its data.pkl mutated.
pub fn mutate_zip(rng: &mut Rng, entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut entries = entries.to_vec();
    for (name, data) in &mut entries {
        if name.ends_with("data.pkl") {
            *data = mutate_pickle(rng, data);
        }
    }
    torch_save::zip(&entries)
}

/// A legacy .pth with one of its five pickles (most often the state_dict's) mutated.
pub fn mutate_legacy(rng: &mut Rng, file: &[u8]) -> Vec<u8> {
    let mut bounds = vec![0];
    for _ in 0..5 {
        let at = *bounds.last().unwrap();
        bounds.push(at + ops(&file[at..]).iter().map(Vec::len).sum::<usize>());
    }
    let k = if rng.below(2) == 0 { 3 } else { rng.below(5) };
    let mut out = file[..bounds[k]].to_vec();
    out.extend(mutate_pickle(rng, &file[bounds[k]..bounds[k + 1]]));
    out.extend_from_slice(&file[bounds[k + 1]..]);
    out
}

/// A safetensors file with header fields changed: shapes, offsets, dtypes, names.
pub fn mutate_safetensors(rng: &mut Rng, file: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&file[8..8 + n]).unwrap();
    let names: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    for _ in 0..1 + rng.below(3) {
        let name = &names[rng.below(names.len())];
        let Some(entry) = header.get_mut(name) else {
            continue;
        };
        let extreme = serde_json::json!(EXTREMES[rng.below(EXTREMES.len())]);
        match rng.below(6) {
            0 => {
                let shape = entry["shape"].as_array_mut().unwrap();
                if shape.is_empty() {
                    shape.push(extreme);
                } else {
                    let i = rng.below(shape.len());
                    shape[i] = extreme;
                }
            }
            1 => entry["data_offsets"][rng.below(2)] = extreme,
            2 => {
                let dtypes = ["F16", "BF16", "F64", "I64", "U8", "BOOL"];
                entry["dtype"] = serde_json::json!(dtypes[rng.below(dtypes.len())]);
            }
            3 => {
                let e = header.remove(name).unwrap();
                let other = names[rng.below(names.len())].clone();
                header.insert(format!("{other}{}", ["", ".x", "0"][rng.below(3)]), e);
            }
            4 => {
                header.remove(name);
            }
            _ => entry["shape"].as_array_mut().unwrap().reverse(),
        }
    }
    let mut out = Vec::new();
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&file[8 + n..]);
    out
}
