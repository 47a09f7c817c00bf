//! Just enough of Python's pickle to read a torch state_dict.
//!
//! Objects live in an arena and values refer to them by index, so memo lookups never copy,
//! nothing recurses on drop, and every allocation is charged to the file's `Budget`: the
//! memo is sparse (one entry per PUT, whatever its index), MARKs are kept on their own
//! stack, and tuples are read in place, never copied per use.

use std::collections::HashMap;
use std::mem::size_of;

use super::budget::Budget;
use crate::{Error, Result};

/// A tensor's dimensions: ShuffleNetV2 has at most 4; anything longer is not a shape.
const MAX_DIMS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Obj {
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name` of a GLOBAL.
    Global(String),
    /// A torch storage named by a persistent id: its class (`torch.FloatStorage`), key, length.
    Storage {
        class: String,
        key: String,
        numel: usize,
    },
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
    Tensor {
        storage: usize,
        offset: usize,
        shape: Vec<usize>,
        stride: Vec<usize>,
    },
    /// Anything else a REDUCE or NEWOBJ built, named by its callable.
    Opaque(String),
}

pub struct Pickle {
    pub objs: Vec<Obj>,
    pub root: Value,
    /// Bytes consumed, up to and including STOP.
    pub len: usize,
}

impl Pickle {
    pub fn obj(&self, v: Value) -> Option<&Obj> {
        obj(&self.objs, v)
    }

    pub fn str(&self, v: Value) -> Option<&str> {
        string(&self.objs, v)
    }
}

fn obj(objs: &[Obj], v: Value) -> Option<&Obj> {
    match v {
        Value::Obj(i) => objs.get(i),
        _ => None,
    }
}

fn string(objs: &[Obj], v: Value) -> Option<&str> {
    match obj(objs, v) {
        Some(Obj::Str(s)) => Some(s),
        _ => None,
    }
}

fn index(v: Value) -> Option<usize> {
    match v {
        Value::Int(i) => usize::try_from(i).ok(),
        _ => None,
    }
}

/// A short tuple of non-negative ints, as shapes and strides are.
fn usizes(objs: &[Obj], v: Value) -> Option<Vec<usize>> {
    match obj(objs, v) {
        Some(Obj::Tuple(items)) if items.len() <= MAX_DIMS => {
            items.iter().map(|i| index(*i)).collect()
        }
        _ => None,
    }
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(format!("pickle: {}", msg.into()))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The input was cut at the caller's size limit, so running out means "too long".
    capped: bool,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> Error {
        if self.capped {
            Error::Budget(format!(
                "the pickle runs past {} bytes, longer than any state_dict's",
                self.buf.len()
            ))
        } else {
            corrupt("truncated")
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.truncated())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.buf[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| self.truncated())?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| corrupt("non-UTF-8 name"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn string(&mut self, n: usize) -> Result<String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("invalid UTF-8 string"))
    }
}

struct Machine<'b> {
    objs: Vec<Obj>,
    stack: Vec<Value>,
    /// Stack heights at each MARK, innermost last.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// The deepest the stack has been: slots below it are already charged.
    stack_charged: usize,
    budget: &'b mut Budget,
}

impl Machine<'_> {
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.budget.charge(bytes, "the pickle")
    }

    fn push(&mut self, v: Value) -> Result<()> {
        self.stack.push(v);
        if self.stack.len() > self.stack_charged {
            self.stack_charged = self.stack.len();
            self.charge(size_of::<Value>())?;
        }
        Ok(())
    }

    /// Charges the object and what it holds on the heap, stores it and pushes it.
    fn push_obj(&mut self, o: Obj) -> Result<()> {
        let heap = match &o {
            Obj::Str(s) | Obj::Global(s) | Obj::Opaque(s) => s.len(),
            Obj::Bytes(b) => b.len(),
            Obj::Tuple(v) | Obj::List(v) => v.len() * size_of::<Value>(),
            Obj::Dict(d) => d.len() * size_of::<(Value, Value)>(),
            Obj::Storage { class, key, .. } => class.len() + key.len(),
            Obj::Tensor { shape, stride, .. } => (shape.len() + stride.len()) * size_of::<usize>(),
        };
        self.charge(size_of::<Obj>() + heap)?;
        self.objs.push(o);
        self.push(Value::Obj(self.objs.len() - 1))
    }

    /// The stack above the innermost MARK is this frame; nothing below it can be popped.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Value> {
        if self.stack.len() <= self.floor() {
            return Err(corrupt("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| corrupt("stack underflow"))
    }

    /// Everything above the innermost MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| corrupt("no MARK on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    fn top_obj(&mut self) -> Result<&mut Obj> {
        if self.stack.len() <= self.floor() {
            return Err(corrupt("expected an object on the stack"));
        }
        match self.stack.last() {
            Some(Value::Obj(i)) => Ok(&mut self.objs[*i]),
            _ => Err(corrupt("expected an object on the stack")),
        }
    }

    fn memo_put(&mut self, idx: u32) -> Result<()> {
        let v = *self
            .stack
            .last()
            .ok_or_else(|| corrupt("PUT on an empty stack"))?;
        if self.memo.insert(idx, v).is_none() {
            // A hash map entry and its share of empty slots.
            self.charge(2 * size_of::<(u32, Value)>())?;
        }
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> Result<()> {
        let v = self
            .memo
            .get(&idx)
            .copied()
            .ok_or_else(|| corrupt(format!("memo index {idx} never stored")))?;
        self.push(v)
    }

    fn add_items(&mut self, items: Vec<Value>) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(corrupt("SETITEMS with an odd number of values"));
        }
        self.charge(items.len() / 2 * size_of::<(Value, Value)>())?;
        match self.top_obj()? {
            Obj::Dict(d) => {
                d.extend(items.chunks_exact(2).map(|p| (p[0], p[1])));
                Ok(())
            }
            Obj::Opaque(_) => Ok(()),
            _ => Err(corrupt("SETITEM on something that is not a dict")),
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Result<()> {
        self.charge(items.len() * size_of::<Value>())?;
        match self.top_obj()? {
            Obj::List(l) => {
                l.extend(items);
                Ok(())
            }
            Obj::Opaque(_) => Ok(()),
            _ => Err(corrupt("APPEND on something that is not a list")),
        }
    }

    fn global_name(&self, v: Value) -> String {
        match obj(&self.objs, v) {
            Some(Obj::Global(g)) => g.clone(),
            _ => "?".into(),
        }
    }

    fn tuple(&self, v: Value) -> Result<&[Value]> {
        match obj(&self.objs, v) {
            Some(Obj::Tuple(t)) => Ok(t),
            _ => Err(corrupt("expected a tuple")),
        }
    }

    fn reduce(&mut self, func: Value, args: Value) -> Result<()> {
        let name = self.global_name(func);
        match name.as_str() {
            "collections.OrderedDict" | "builtins.dict" => self.push_obj(Obj::Dict(Vec::new())),
            "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
                let a = self.tuple(args)?;
                if a.len() < 4 {
                    return Err(corrupt("_rebuild_tensor_v2 with too few arguments"));
                }
                let storage = match a[0] {
                    Value::Obj(i) if matches!(self.objs[i], Obj::Storage { .. }) => i,
                    _ => return Err(corrupt("tensor without a storage")),
                };
                let offset = index(a[1]).ok_or_else(|| corrupt("bad storage offset"))?;
                let shape = usizes(&self.objs, a[2]).ok_or_else(|| corrupt("bad tensor size"))?;
                let stride =
                    usizes(&self.objs, a[3]).ok_or_else(|| corrupt("bad tensor stride"))?;
                self.push_obj(Obj::Tensor {
                    storage,
                    offset,
                    shape,
                    stride,
                })
            }
            // nn.Parameter wraps a tensor: keep the tensor.
            "torch._utils._rebuild_parameter" => {
                let a = self.tuple(args)?;
                let data = *a
                    .first()
                    .ok_or_else(|| corrupt("empty _rebuild_parameter"))?;
                self.push(data)
            }
            _ => self.push_obj(Obj::Opaque(name)),
        }
    }

    fn persistent(&mut self, pid: Value) -> Result<()> {
        let t = self.tuple(pid)?;
        let s = |v: Value| string(&self.objs, v);
        if t.len() < 5 || s(t[0]) != Some("storage") {
            return Err(corrupt("unknown persistent id (expected a torch storage)"));
        }
        let (class_v, key_v, numel_v) = (t[1], t[2], t[4]);
        let class = self.global_name(class_v);
        let key = s(key_v)
            .ok_or_else(|| corrupt("storage key is not a string"))?
            .to_string();
        let numel = index(numel_v).ok_or_else(|| corrupt("bad storage size"))?;
        self.push_obj(Obj::Storage { class, key, numel })
    }
}

/// Runs one pickle from the start of `buf` to its STOP, reading at most `max_len` bytes.
pub fn load(buf: &[u8], max_len: usize, budget: &mut Budget) -> Result<Pickle> {
    let mut r = Reader {
        buf: &buf[..buf.len().min(max_len)],
        pos: 0,
        capped: buf.len() > max_len,
    };
    let mut m = Machine {
        objs: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        stack_charged: 0,
        budget,
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.take(8)?; // FRAME
            }
            b'.' => break,
            b'(' => {
                m.charge(size_of::<usize>())?;
                m.marks.push(m.stack.len());
            }
            b'N' => m.push(Value::None)?,
            0x88 => m.push(Value::Bool(true))?,
            0x89 => m.push(Value::Bool(false))?,
            b'K' => m.push(Value::Int(r.u8()? as i64))?,
            b'M' => m.push(Value::Int(u16::from_le_bytes(r.le()?) as i64))?,
            b'J' => m.push(Value::Int(i32::from_le_bytes(r.le()?) as i64))?,
            0x8a => {
                let n = r.u8()? as usize;
                let b = r.take(n)?;
                if n > 8 {
                    // Longer than i64: only the legacy format's magic number, which the caller checks.
                    m.push_obj(Obj::Bytes(b.to_vec()))?;
                } else {
                    let mut v = [if b.last().is_some_and(|x| x & 0x80 != 0) {
                        0xff
                    } else {
                        0
                    }; 8];
                    v[..n].copy_from_slice(b);
                    m.push(Value::Int(i64::from_le_bytes(v)))?;
                }
            }
            b'G' => m.push(Value::Float(f64::from_be_bytes(r.le()?)))?,
            b'X' => {
                let n = u32::from_le_bytes(r.le()?) as usize;
                let s = r.string(n)?;
                m.push_obj(Obj::Str(s))?;
            }
            0x8c => {
                let n = r.u8()? as usize;
                let s = r.string(n)?;
                m.push_obj(Obj::Str(s))?;
            }
            b'U' | b'C' => {
                let n = r.u8()? as usize;
                m.push_obj(Obj::Bytes(r.take(n)?.to_vec()))?;
            }
            b'T' | b'B' => {
                let n = u32::from_le_bytes(r.le()?) as usize;
                m.push_obj(Obj::Bytes(r.take(n)?.to_vec()))?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                m.push_obj(Obj::Global(format!("{module}.{name}")))?;
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                let get = |v: Value| {
                    string(&m.objs, v).ok_or_else(|| corrupt("STACK_GLOBAL needs strings"))
                };
                let g = format!("{}.{}", get(module)?, get(name)?);
                m.push_obj(Obj::Global(g))?;
            }
            b')' => m.push_obj(Obj::Tuple(Vec::new()))?,
            b't' => {
                let items = m.pop_mark()?;
                m.push_obj(Obj::Tuple(items))?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(m.pop()?);
                }
                items.reverse();
                m.push_obj(Obj::Tuple(items))?;
            }
            b']' => m.push_obj(Obj::List(Vec::new()))?,
            b'}' => m.push_obj(Obj::Dict(Vec::new()))?,
            b'a' => {
                let v = m.pop()?;
                m.append(vec![v])?;
            }
            b'e' => {
                let items = m.pop_mark()?;
                m.append(items)?;
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                m.add_items(vec![k, v])?;
            }
            b'u' => {
                let items = m.pop_mark()?;
                m.add_items(items)?;
            }
            b'q' => {
                let i = r.u8()? as u32;
                m.memo_put(i)?;
            }
            b'r' => {
                let i = u32::from_le_bytes(r.le()?);
                m.memo_put(i)?;
            }
            0x94 => {
                let i = u32::try_from(m.memo.len()).map_err(|_| corrupt("memo overflow"))?;
                m.memo_put(i)?;
            }
            b'h' => {
                let i = r.u8()? as u32;
                m.memo_get(i)?;
            }
            b'j' => {
                let i = u32::from_le_bytes(r.le()?);
                m.memo_get(i)?;
            }
            b'R' => {
                let args = m.pop()?;
                let func = m.pop()?;
                m.reduce(func, args)?;
            }
            0x81 => {
                let _args = m.pop()?;
                let cls = m.pop()?;
                let name = m.global_name(cls);
                m.push_obj(Obj::Opaque(name))?;
            }
            b'b' => {
                // BUILD sets an object's state (a state_dict's `_metadata`): not needed.
                m.pop()?;
            }
            b'Q' => {
                let pid = m.pop()?;
                m.persistent(pid)?;
            }
            b'0' => {
                m.pop()?;
            }
            b'1' => {
                m.pop_mark()?;
            }
            b'2' => {
                let v = *m
                    .stack
                    .last()
                    .filter(|_| m.stack.len() > m.floor())
                    .ok_or_else(|| corrupt("DUP on an empty stack"))?;
                m.push(v)?;
            }
            other => {
                return Err(corrupt(format!(
                    "unsupported opcode 0x{other:02x} at byte {}",
                    r.pos - 1
                )))
            }
        }
    }
    let root = m.pop()?;
    Ok(Pickle {
        objs: m.objs,
        root,
        len: r.pos,
    })
}
