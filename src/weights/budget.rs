//! What a reader may spend on one file, set by the file's own length: allocations at most
//! about twice the file (plus a small floor), so no header field, pickle trick or shared
//! storage makes a small file cost more than a large honest one. Every step that allocates
//! charges what it keeps; work is linear because each byte read does bounded work plus what
//! it charges.

use crate::{Error, Result};

/// Headroom for tiny files (a test fixture's pickle, say): their constant costs.
const FLOOR_BYTES: usize = 1 << 20;

#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    /// Twice the file, plus the floor.
    pub fn for_file(file_bytes: usize) -> Budget {
        Budget {
            limit: file_bytes.saturating_mul(2).saturating_add(FLOOR_BYTES),
            used: 0,
        }
    }

    /// Records `bytes` more kept by `what`; fails once the total passes the limit.
    pub fn charge(&mut self, bytes: usize, what: &str) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(Error::Budget(format!(
                "{what} would need more than {} bytes of memory, the budget for a file of this size \
                 (twice its length plus 1 MiB)",
                self.limit
            )));
        }
        Ok(())
    }

    /// `count` items of `size` bytes each, overflow-checked.
    pub fn charge_items(&mut self, count: usize, size: usize, what: &str) -> Result<()> {
        self.charge(count.saturating_mul(size), what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_up_to_the_limit_and_no_further() {
        let mut b = Budget::for_file(100);
        b.charge(FLOOR_BYTES + 200, "all of it").unwrap();
        let e = b.charge(1, "one more byte").unwrap_err();
        assert!(e.to_string().contains("one more byte"), "{e}");
        let mut b = Budget::for_file(0);
        assert!(b.charge_items(usize::MAX, 2, "overflow").is_err());
    }
}
