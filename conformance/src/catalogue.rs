//! The requirement catalogue (`model/spec/requirements.md`): stable IDs, their strength
//! (the vector tier) and the versions they apply to. Parsed from the Markdown tables, where
//! every requirement is one row `| ID | text | strength | versions | source |`.

use bootstrap_model::profile::Profile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalogue text, built into the binary so vectors can be checked anywhere.
pub const TEXT: &str = include_str!("../../model/spec/requirements.md");

/// MUST / SHOULD / MAY, as the requirement states it (derived requirements count as MUST).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Tier {
    /// Mandatory.
    #[serde(rename = "MUST")]
    Must,
    /// Recommended.
    #[serde(rename = "SHOULD")]
    Should,
    /// Optional.
    #[serde(rename = "MAY")]
    May,
}

/// One requirement row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Stable ID, e.g. `BS-DEL-03`.
    pub id: String,
    /// What the row says, in the catalogue's words.
    pub text: String,
    /// Tier from the strength column: MUST if it says MUST anywhere, else SHOULD, else MAY.
    pub tier: Tier,
    /// Versions named in the version column.
    pub versions: Vec<Profile>,
}

/// Requirements the seed profile does not take from 1.0 although it runs over the 1.0
/// operation vocabulary: the seed replaces them with its own rules (cascade instead of
/// BS-KEEP-02/03, Step 0 instead of the 1.0 push, BS-RB-04).
const SEED_REPLACES: &[&str] = &["BS-KEEP-02", "BS-KEEP-03", "BS-RB-04"];

/// The parsed catalogue.
#[derive(Clone, Debug)]
pub struct Catalogue {
    /// Requirements by ID.
    pub by_id: BTreeMap<String, Requirement>,
}

impl Catalogue {
    /// Parses the built-in catalogue.
    pub fn load() -> Catalogue {
        Catalogue::parse(TEXT)
    }

    /// Parses catalogue text.
    pub fn parse(text: &str) -> Catalogue {
        let mut by_id = BTreeMap::new();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // ["", ID, text, strength, versions, source, ""]
            if cells.len() < 6 || !cells[1].starts_with("BS-") {
                continue;
            }
            let strength = cells[3];
            let tier = if strength.contains("MUST") {
                Tier::Must
            } else if strength.contains("SHOULD") {
                Tier::Should
            } else {
                Tier::May
            };
            // Only what stands outside parentheses names versions: "1.0 (replaced in 1.1)"
            // is a 1.0 requirement.
            let mut v = String::new();
            let mut depth = 0;
            for ch in cells[4].chars() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth = (depth - 1i32).max(0),
                    c if depth == 0 => v.push(c),
                    _ => {}
                }
            }
            let versions = Profile::ALL
                .into_iter()
                .filter(|p| v.contains(p.name()))
                .collect();
            by_id.insert(
                cells[1].to_string(),
                Requirement {
                    id: cells[1].to_string(),
                    text: cells[2].to_string(),
                    tier,
                    versions,
                },
            );
        }
        Catalogue { by_id }
    }

    /// Whether requirement `id` applies to `profile`: its version column names the profile,
    /// or the profile is the seed, the requirement is a 1.0 one and the seed does not replace
    /// it (the seed runs over the 1.0 vocabulary).
    pub fn applies(&self, id: &str, profile: Profile) -> bool {
        let Some(r) = self.by_id.get(id) else {
            return false;
        };
        r.versions.contains(&profile)
            || profile == Profile::Seed
                && r.versions.contains(&Profile::V1_0)
                && !SEED_REPLACES.contains(&id)
    }

    /// The tier of requirement `id` (MAY when unknown).
    pub fn tier(&self, id: &str) -> Tier {
        self.by_id.get(id).map_or(Tier::May, |r| r.tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_row_with_tier_and_versions() {
        let c = Catalogue::load();
        assert!(c.by_id.len() >= 90, "{}", c.by_id.len());
        let del = &c.by_id["BS-DEL-03"];
        assert_eq!(del.tier, Tier::Must);
        assert_eq!(
            del.versions,
            vec![Profile::V1_0, Profile::V1_1, Profile::V1_2]
        );
        assert_eq!(c.by_id["BS-ACCT-07"].tier, Tier::Should);
        assert_eq!(c.by_id["BS-DEL-04"].tier, Tier::May);
        assert_eq!(c.by_id["BS-WIPE-01"].versions, vec![Profile::Seed]);
        assert!(c.applies("BS-DEL-03", Profile::Seed));
        assert!(!c.applies("BS-KEEP-02", Profile::Seed));
        assert!(!c.applies("BS-READ-01", Profile::V1_0));
        assert!(!c.applies("BS-NOPE-01", Profile::V1_0));
        assert_eq!(
            c.by_id["BS-RB-04"].versions,
            vec![Profile::V1_0],
            "(replaced in 1.1)"
        );
        assert_eq!(
            c.by_id["BS-REG-05"].versions,
            vec![Profile::V1_1, Profile::V1_2]
        );
    }
}
