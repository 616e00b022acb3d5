//! The `vectors/` directory: one file per vector under `vectors/<profile>/`, the manifest,
//! the coverage report and the JSON Schemas; written, or compared with what is on disk.

use crate::generate::{coverage, generate_profile, ProfileCoverage, ProfileOutput};
use crate::vector::{
    manifest_schema, pretty, vector_schema, GeneratorConfig, Manifest, ManifestEntry,
    FORMAT_VERSION,
};
use bootstrap_model::profile::Profile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Generates `profiles` using up to `threads` threads (profiles are independent; the result
/// is in profile order whatever the thread count).
pub fn generate_all(
    profiles: &[Profile],
    cfg: &GeneratorConfig,
    threads: usize,
) -> Result<Vec<ProfileOutput>, String> {
    let threads = threads.max(1);
    let mut results: Vec<Option<Result<ProfileOutput, String>>> = vec![None; profiles.len()];
    for chunk in (0..profiles.len()).collect::<Vec<_>>().chunks(threads) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| (i, s.spawn(move || generate_profile(profiles[i], cfg))))
                .collect();
            for (i, h) in handles {
                results[i] = Some(
                    h.join()
                        .unwrap_or_else(|_| Err("generation panicked".into())),
                );
            }
        });
    }
    results
        .into_iter()
        .map(|r| r.expect("every profile ran"))
        .collect()
}

/// Every file of the vectors directory for `outputs`, by path relative to the directory.
/// The manifest and the coverage report cover exactly the profiles given.
pub fn render(outputs: &[ProfileOutput], cfg: &GeneratorConfig) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut entries = Vec::new();
    let mut cov = Vec::new();
    for o in outputs {
        for v in &o.vectors {
            let rel = PathBuf::from(&v.profile).join(format!("{}.json", v.name));
            entries.push(ManifestEntry {
                id: v.id.clone(),
                file: rel.to_string_lossy().into_owned(),
                profile: v.profile.clone(),
                tier: v.tier,
                title: v.title.clone(),
                requirements: v.requirements.clone(),
                tags: v.tags.clone(),
            });
            files.insert(rel, pretty(v));
        }
        cov.push(coverage(o.profile, &o.vectors, &o.reachable));
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        model_version: env!("CARGO_PKG_VERSION").to_string(),
        config: cfg.clone(),
        vectors: entries,
    };
    files.insert(PathBuf::from("manifest.json"), pretty(&manifest));
    files.insert(PathBuf::from("coverage.json"), pretty(&cov));
    files.insert(PathBuf::from("schema/vector.schema.json"), vector_schema());
    files.insert(
        PathBuf::from("schema/manifest.schema.json"),
        manifest_schema(),
    );
    files
}

/// The coverage reports of `outputs`.
pub fn coverage_of(outputs: &[ProfileOutput]) -> Vec<ProfileCoverage> {
    outputs
        .iter()
        .map(|o| coverage(o.profile, &o.vectors, &o.reachable))
        .collect()
}

/// Files on disk that differ from `files`, and vector files on disk that `files` lacks
/// (only under the profile directories `files` has).
pub fn differences(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in files {
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(t) if &t == text => {}
            Ok(_) => out.push(format!("changed: {}", rel.display())),
            Err(_) => out.push(format!("missing: {}", rel.display())),
        }
    }
    for stale in stale_files(dir, files) {
        out.push(format!("not generated any more: {}", stale.display()));
    }
    out
}

fn stale_files(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let profiles: Vec<PathBuf> = files
        .keys()
        .filter_map(|p| {
            p.parent()
                .filter(|p| !p.as_os_str().is_empty() && *p != Path::new("schema"))
                .map(Path::to_path_buf)
        })
        .collect();
    let mut out = Vec::new();
    for p in profiles.iter().collect::<std::collections::BTreeSet<_>>() {
        if let Ok(rd) = std::fs::read_dir(dir.join(p)) {
            for e in rd.flatten() {
                let rel = p.join(e.file_name());
                if rel.extension().is_some_and(|x| x == "json") && !files.contains_key(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Writes `files` under `dir` and removes vector files that are no longer generated.
pub fn write(dir: &Path, files: &BTreeMap<PathBuf, String>) -> std::io::Result<usize> {
    for stale in stale_files(dir, files) {
        std::fs::remove_file(dir.join(stale))?;
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text)?;
        }
    }
    Ok(files.len())
}
