//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the same target bodies
//! the libFuzzer binaries run, so every seed and every fixed crash stays a regression test on
//! stable Rust.

use resp_sentinel_core::fuzzing::TARGETS;
use std::path::PathBuf;

/// Fewest files each target directory must hold; a lost corpus fails instead of passing empty.
const MIN_FILES_PER_TARGET: usize = 20;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_replays_its_corpus() {
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {} unreadable: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in &files {
            let data = std::fs::read(path).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "target {target} failed on {} ({} bytes)",
                path.display(),
                data.len()
            );
        }
        assert!(
            files.len() >= MIN_FILES_PER_TARGET,
            "target {target}: only {} corpus files in {}, expected at least {MIN_FILES_PER_TARGET}",
            files.len(),
            dir.display()
        );
    }
}

#[test]
fn every_corpus_directory_has_a_target() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for entry in std::fs::read_dir(&root).expect("fuzz/corpus") {
        let name = entry.expect("directory entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/corpus/{name} has no target in resp_sentinel_core::fuzzing::TARGETS"
        );
    }
}
