//! Owned [`Value`]s from validated bytes, built with an explicit stack (no recursion).

use super::scan::{is_pairs, read_item, Item};
use super::{Aggregate, ByteStr, Frame, Value};
use bytes::Bytes;

/// `s` as a [`ByteStr`]: inline when short, else a zero-copy slice of `backing` when `s` lies
/// inside it, a copy otherwise.
pub(crate) fn sub_str(backing: &Bytes, s: &[u8]) -> ByteStr {
    if let Some(inline) = ByteStr::inline(s) {
        return inline;
    }
    let base = backing.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    if p >= base && p + s.len() <= base + backing.len() {
        ByteStr::inline_or_slice(s, backing, p - base..p - base + s.len())
    } else {
        ByteStr::copy_from_slice(s)
    }
}

/// Turns a flat key, value, key, value list into pairs (a trailing odd element is dropped).
pub(crate) fn into_pairs(items: Vec<Value>) -> Vec<(Value, Value)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// A container being filled.
struct Level {
    kind: u8,
    remaining: usize,
    items: Vec<Value>,
    /// Attribute pairs waiting for the next element of this level.
    attr: Option<Vec<(Value, Value)>>,
}

impl Level {
    fn new(kind: u8, elems: usize, room: usize) -> Level {
        // Each element takes at least 3 bytes of the (already received) input, so the
        // capacity is bounded by bytes that exist, never by a claimed length alone.
        Level {
            kind,
            remaining: elems,
            items: Vec::with_capacity(elems.min(room / 3)),
            attr: None,
        }
    }

    fn push(&mut self, mut v: Value) {
        if let Some(attributes) = self.attr.take() {
            v = Value::Attributed {
                attributes,
                value: Box::new(v),
            };
        }
        self.items.push(v);
        self.remaining = self.remaining.saturating_sub(1);
    }

    fn finish(self) -> Value {
        match self.kind {
            b'%' => Value::Map(into_pairs(self.items)),
            b'~' => Value::Set(self.items),
            b'>' => Value::Push(self.items),
            _ => Value::Array(self.items),
        }
    }
}

/// A scalar frame as a value.
fn scalar(f: Frame<'_>, backing: &Bytes) -> Value {
    // Aggregates never reach here (read_item returns them as headers); to_value handles the rest.
    f.to_value(backing)
}

/// Builds the `count` elements found from `pos` in validated `buf` (attributes do not count;
/// they wrap the element they precede).
pub(crate) fn build_seq(buf: &[u8], pos: usize, count: usize, backing: &Bytes) -> Vec<Value> {
    let mut pos = pos;
    let mut root = Level::new(0, count, buf.len().saturating_sub(pos));
    let mut stack: Vec<Level> = Vec::new();
    loop {
        let done = stack
            .last()
            .map_or(root.remaining == 0, |l| l.remaining == 0);
        if done {
            let Some(l) = stack.pop() else {
                return root.items;
            };
            let parent = stack.last_mut().unwrap_or(&mut root);
            if l.kind == b'|' {
                parent.attr = Some(into_pairs(l.items));
            } else {
                parent.push(l.finish());
            }
            continue;
        }
        let Some((item, next)) = read_item(buf, pos) else {
            // Only for bytes the decoder did not validate: return what was built.
            while let Some(l) = stack.pop() {
                let parent = stack.last_mut().unwrap_or(&mut root);
                if l.kind != b'|' {
                    parent.push(l.finish());
                }
            }
            return root.items;
        };
        pos = next;
        match item {
            Item::Frame(f) => stack
                .last_mut()
                .unwrap_or(&mut root)
                .push(scalar(f, backing)),
            Item::Agg { kind, len } => {
                let elems = if is_pairs(kind) {
                    len.saturating_mul(2)
                } else {
                    len
                };
                stack.push(Level::new(kind, elems, buf.len().saturating_sub(pos)));
            }
        }
    }
}

/// The owned elements of an aggregate (flat: keys and values alternate for maps).
pub(crate) fn build_aggregate(a: Aggregate<'_>, backing: &Bytes) -> Vec<Value> {
    let elems = if a.pairs {
        a.len.saturating_mul(2)
    } else {
        a.len
    };
    build_seq(a.body, 0, elems, backing)
}
