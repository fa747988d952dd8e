//! The Lua and JavaScript translations of part of the real corpus
//! (`learner/corpus/translate.py`, written by `make corpus`): each runs to
//! its end in its guest and prints exactly what its Python original prints,
//! so the same computation is seen in three syntaxes, and the translations
//! of held-out programs stay held out.

use std::collections::HashMap;
use std::path::PathBuf;

use curio_interpreter_pool::{Limits, Status};
use curio_learner::{Listed, read_programs};
use curio_tests::run_in;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/corpus")
}

fn read(name: &str) -> Vec<Listed> {
    let path = corpus().join(name);
    assert!(path.exists(), "no {} (run `make corpus`)", path.display());
    read_programs(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every translation in `split` (`real` or `train`) prints what the Python
/// program of the same id in that split prints; returns how many ran.
fn print_what_python_prints(language: &str, split: &str) -> usize {
    let originals: HashMap<String, Listed> =
        read(&format!("{split}.jsonl")).into_iter().map(|p| (p.id.clone(), p)).collect();
    let translations = read(&format!("{language}-{split}.jsonl"));
    let run = |p: &Listed| run_in(p.language, &p.source, &p.input, Limits::default());
    let originals = &originals;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = translations
            .chunks(translations.len().div_ceil(2).max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    let mut failures = vec![];
                    for t in chunk {
                        assert_eq!(t.language.as_str(), language, "{}", t.id);
                        let Some(original) = originals.get(&t.id) else {
                            failures.push(format!("{}: no Python program of that id in {split}.jsonl", t.id));
                            continue;
                        };
                        let (theirs, ours) = (run(original), run(t));
                        if ours.status != Status::Ok || ours.stdout != theirs.stdout {
                            failures.push(format!(
                                "{}: Python printed {:?}, {language} ({}) printed {:?} {:?}",
                                t.id,
                                theirs.stdout,
                                ours.status.as_str(),
                                ours.stdout,
                                ours.error.as_ref().map(|e| &e.message)
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), translations.len(), failures.join("\n"));
    translations.len()
}

#[test]
fn lua_translations_print_what_their_python_originals_print() {
    assert!(print_what_python_prints("lua", "real") >= 40, "too few held-out Lua translations");
    assert!(print_what_python_prints("lua", "train") >= 200, "too few Lua translations to train on");
}

#[test]
fn js_translations_print_what_their_python_originals_print() {
    assert!(print_what_python_prints("js", "real") >= 40, "too few held-out JavaScript translations");
    assert!(print_what_python_prints("js", "train") >= 200, "too few JavaScript translations to train on");
}

#[test]
fn translations_keep_their_originals_split() {
    let real: Vec<String> = read("real.jsonl").into_iter().map(|p| p.id).collect();
    for language in ["lua", "js"] {
        for p in read(&format!("{language}-train.jsonl")) {
            assert!(!real.contains(&p.id), "{language}: {} is held out in Python, so in every language", p.id);
        }
        let translated: Vec<String> = read(&format!("{language}-real.jsonl")).into_iter().map(|p| p.id).collect();
        assert!(translated.iter().all(|id| real.contains(id)), "{language}: a real translation of a training program");
    }
}
