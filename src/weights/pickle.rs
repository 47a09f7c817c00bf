//! Just enough of Python's pickle to read a torch state_dict.
//!
//! Objects live in an arena and values refer to them by index, so memo lookups never copy,
//! nothing recurses on drop, and memory stays proportional to the pickle's own size however
//! the opcodes are arranged.

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(usize),
    Mark,
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

/// A tuple of non-negative ints, as shapes and strides are.
fn usizes(objs: &[Obj], v: Value) -> Option<Vec<usize>> {
    match obj(objs, v) {
        Some(Obj::Tuple(items)) => items.iter().map(|i| index(*i)).collect(),
        _ => None,
    }
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(format!("pickle: {}", msg.into()))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| corrupt("truncated"))?;
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
            .ok_or_else(|| corrupt("truncated line"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| corrupt("non-UTF-8 name"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn string(&mut self, n: usize) -> Result<String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("invalid UTF-8 string"))
    }
}

struct Machine {
    objs: Vec<Obj>,
    stack: Vec<Value>,
    memo: Vec<Option<Value>>,
}

impl Machine {
    fn push_obj(&mut self, o: Obj) {
        self.objs.push(o);
        self.stack.push(Value::Obj(self.objs.len() - 1));
    }

    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(corrupt("stack underflow")),
            Some(v) => Ok(v),
        }
    }

    /// Everything above the topmost MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let m = self
            .stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or_else(|| corrupt("no MARK on the stack"))?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top_obj(&mut self) -> Result<&mut Obj> {
        match self.stack.last() {
            Some(Value::Obj(i)) => Ok(&mut self.objs[*i]),
            _ => Err(corrupt("expected an object on the stack")),
        }
    }

    fn memo_put(&mut self, idx: usize) -> Result<()> {
        let v = *self
            .stack
            .last()
            .ok_or_else(|| corrupt("PUT on an empty stack"))?;
        // Memo indices are dense in practice; refuse wild ones rather than allocate for them.
        if idx > self.memo.len() + 1024 {
            return Err(corrupt(format!("memo index {idx} out of range")));
        }
        if self.memo.len() <= idx {
            self.memo.resize(idx + 1, None);
        }
        self.memo[idx] = Some(v);
        Ok(())
    }

    fn memo_get(&mut self, idx: usize) -> Result<()> {
        let v = self
            .memo
            .get(idx)
            .copied()
            .flatten()
            .ok_or_else(|| corrupt(format!("memo index {idx} never stored")))?;
        self.stack.push(v);
        Ok(())
    }

    fn add_items(&mut self, items: Vec<Value>) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(corrupt("SETITEMS with an odd number of values"));
        }
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
                let a = self.tuple(args)?.to_vec();
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
                });
            }
            // nn.Parameter wraps a tensor: keep the tensor.
            "torch._utils._rebuild_parameter" => {
                let a = self.tuple(args)?;
                let data = *a
                    .first()
                    .ok_or_else(|| corrupt("empty _rebuild_parameter"))?;
                self.stack.push(data);
            }
            _ => self.push_obj(Obj::Opaque(name)),
        }
        Ok(())
    }

    fn persistent(&mut self, pid: Value) -> Result<()> {
        let t = self.tuple(pid)?.to_vec();
        let s = |v: Value| string(&self.objs, v).map(str::to_string);
        if t.len() < 5 || s(t[0]).as_deref() != Some("storage") {
            return Err(corrupt("unknown persistent id (expected a torch storage)"));
        }
        let class = self.global_name(t[1]);
        let key = s(t[2]).ok_or_else(|| corrupt("storage key is not a string"))?;
        let numel = index(t[4]).ok_or_else(|| corrupt("bad storage size"))?;
        self.push_obj(Obj::Storage { class, key, numel });
        Ok(())
    }
}

/// Runs one pickle from the start of `buf` to its STOP.
pub fn load(buf: &[u8]) -> Result<Pickle> {
    let mut r = Reader { buf, pos: 0 };
    let mut m = Machine {
        objs: Vec::new(),
        stack: Vec::new(),
        memo: Vec::new(),
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
            b'(' => m.stack.push(Value::Mark),
            b'N' => m.stack.push(Value::None),
            0x88 => m.stack.push(Value::Bool(true)),
            0x89 => m.stack.push(Value::Bool(false)),
            b'K' => m.stack.push(Value::Int(r.u8()? as i64)),
            b'M' => m.stack.push(Value::Int(u16::from_le_bytes(r.le()?) as i64)),
            b'J' => m.stack.push(Value::Int(i32::from_le_bytes(r.le()?) as i64)),
            0x8a => {
                let n = r.u8()? as usize;
                let b = r.take(n)?;
                if n > 8 {
                    // Longer than i64: only the legacy format's magic number, which the caller checks.
                    m.push_obj(Obj::Bytes(b.to_vec()));
                } else {
                    let mut v = [if b.last().is_some_and(|x| x & 0x80 != 0) {
                        0xff
                    } else {
                        0
                    }; 8];
                    v[..n].copy_from_slice(b);
                    m.stack.push(Value::Int(i64::from_le_bytes(v)));
                }
            }
            b'G' => m.stack.push(Value::Float(f64::from_be_bytes(r.le()?))),
            b'X' => {
                let n = u32::from_le_bytes(r.le()?) as usize;
                let s = r.string(n)?;
                m.push_obj(Obj::Str(s));
            }
            0x8c => {
                let n = r.u8()? as usize;
                let s = r.string(n)?;
                m.push_obj(Obj::Str(s));
            }
            b'U' => {
                let n = r.u8()? as usize;
                m.push_obj(Obj::Bytes(r.take(n)?.to_vec()));
            }
            b'T' | b'B' => {
                let n = u32::from_le_bytes(r.le()?) as usize;
                m.push_obj(Obj::Bytes(r.take(n)?.to_vec()));
            }
            b'C' => {
                let n = r.u8()? as usize;
                m.push_obj(Obj::Bytes(r.take(n)?.to_vec()));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                m.push_obj(Obj::Global(format!("{module}.{name}")));
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                let get = |v: Value| {
                    string(&m.objs, v).ok_or_else(|| corrupt("STACK_GLOBAL needs strings"))
                };
                let g = format!("{}.{}", get(module)?, get(name)?);
                m.push_obj(Obj::Global(g));
            }
            b')' => m.push_obj(Obj::Tuple(Vec::new())),
            b't' => {
                let items = m.pop_mark()?;
                m.push_obj(Obj::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(m.pop()?);
                }
                items.reverse();
                m.push_obj(Obj::Tuple(items));
            }
            b']' => m.push_obj(Obj::List(Vec::new())),
            b'}' => m.push_obj(Obj::Dict(Vec::new())),
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
                let i = r.u8()? as usize;
                m.memo_put(i)?;
            }
            b'r' => {
                let i = u32::from_le_bytes(r.le()?) as usize;
                m.memo_put(i)?;
            }
            0x94 => {
                let i = m.memo.len();
                m.memo_put(i)?;
            }
            b'h' => {
                let i = r.u8()? as usize;
                m.memo_get(i)?;
            }
            b'j' => {
                let i = u32::from_le_bytes(r.le()?) as usize;
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
                m.push_obj(Obj::Opaque(name));
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
                    .ok_or_else(|| corrupt("DUP on an empty stack"))?;
                m.stack.push(v);
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
