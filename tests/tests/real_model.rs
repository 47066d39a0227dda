//! The main job on the real default model (SmolLM2-135M), as README.md runs it: compress a short
//! public-domain sentence into one vector with the default recipe and get it back exactly.

use cram_tests::*;

#[test]
fn default_model_round_trip() {
    if default_model().is_none() {
        return;
    }
    let dir = Dir::new();
    let text = std::fs::read_to_string(root().join("examples/hello.txt")).unwrap();
    dir.write("hello.txt", &text);
    let m = dir.cram(&["compress", "--text", "hello.txt", "-o", "hello.cram", "--json"]).expect_code(0).json();
    assert_eq!(m["greedy_exact"], true, "{m}");
    assert_eq!(m["mem"], 1);
    assert!((m["theoretical_capacity_tokens"].as_f64().unwrap() - 591.0).abs() < 1.0);
    let back = dir.cram(&["decompress", "hello.cram"]).expect_code(0);
    assert_eq!(back.stdout, text);
}
