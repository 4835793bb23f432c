//! The documentation shows the code the suite runs.

#[test]
fn testing_your_pipeline_shows_the_test_the_suite_runs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let doc = std::fs::read_to_string(format!("{root}/docs/testing-your-pipeline.md")).unwrap();
    let code = include_str!("testing_your_pipeline.rs");
    let block = doc
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n").next())
        .expect("docs/testing-your-pipeline.md has a rust block");
    assert!(
        block == code,
        "docs/testing-your-pipeline.md's example differs from api/tests/testing_your_pipeline.rs: copy the file into the page"
    );
}
