//! A stable share of the selected vectors (`--partition hash:K/N` or `count:K/N`, as
//! cargo-nextest partitions tests), so that N boards or N CI runners together run each
//! vector exactly once; `--merge` puts their reports back together
//! ([`crate::report::merge`]).
//!
//! - `hash:K/N`: a vector belongs to share K when the FNV-1a hash of its trial name is
//!   K-1 modulo N. The share of a vector depends on its name only, not on the filter or the
//!   other vectors, so runs with different filters still split alike.
//! - `count:K/N`: the selected vectors in name order, dealt round-robin: the I-th (from 0)
//!   goes to share I modulo N + 1. The shares differ in size by one at most.

/// Which share of the selected vectors a run takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// By a hash of the trial name.
    Hash {
        /// The share, from 1.
        k: u64,
        /// The number of shares.
        n: u64,
    },
    /// Round-robin over the selected trials in name order.
    Count {
        /// The share, from 1.
        k: u64,
        /// The number of shares.
        n: u64,
    },
}

impl Partition {
    /// Parses `hash:K/N` or `count:K/N` (1 <= K <= N).
    pub fn parse(s: &str) -> Result<Partition, String> {
        let bad = || format!("--partition {s:?}: expected hash:K/N or count:K/N with 1 <= K <= N");
        let (kind, share) = s.split_once(':').ok_or_else(bad)?;
        let (k, n) = share.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        match kind {
            "hash" => Ok(Partition::Hash { k, n }),
            "count" => Ok(Partition::Count { k, n }),
            _ => Err(bad()),
        }
    }

    /// The names, out of the selected `names`, this share runs.
    pub fn select<'a>(&self, names: &[&'a str]) -> std::collections::BTreeSet<&'a str> {
        match *self {
            Partition::Hash { k, n } => names
                .iter()
                .copied()
                .filter(|name| fnv1a(name.as_bytes()) % n == k - 1)
                .collect(),
            Partition::Count { k, n } => {
                let mut sorted: Vec<&str> = names.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                sorted
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| *i as u64 % n == k - 1)
                    .map(|(_, name)| name)
                    .collect()
            }
        }
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions and machines (the
/// standard library's does not promise to).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_name_exactly_once() {
        let names: Vec<String> = (0..100).map(|i| format!("1.2/vector-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for kind in ["hash", "count"] {
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            for k in 1..=3 {
                let share = Partition::parse(&format!("{kind}:{k}/3"))
                    .unwrap()
                    .select(&names);
                sizes.push(share.len());
                seen.extend(share);
            }
            seen.sort_unstable();
            let mut all = names.clone();
            all.sort_unstable();
            assert_eq!(seen, all, "{kind}");
            assert!(sizes.iter().all(|s| *s > 10), "{kind}: {sizes:?}");
            if kind == "count" {
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
        // Hash shares do not depend on which other names are selected.
        let p = Partition::parse("hash:2/3").unwrap();
        let one = p.select(&names[..10]);
        assert!(one.iter().all(|n| p.select(&names).contains(n)));
    }

    #[test]
    fn bad_partitions_are_refused_by_name() {
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "count:1/0",
            "hash:1",
            "rand:1/2",
            "count:a/2",
            "",
        ] {
            let e = Partition::parse(bad).unwrap_err();
            assert!(e.contains("hash:K/N or count:K/N"), "{bad}: {e}");
        }
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
