//! `tandem report --synth-timeout 0` is a usage error, not a 1 s limit.

use std::process::Command;

#[test]
fn a_zero_synth_timeout_is_refused_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "report",
            "--hw",
            &path("hw.yaml"),
            "--model",
            &path("model"),
        ])
        .args(["--out", &path("out"), "--synth-timeout", "0"])
        .output()
        .expect("run tandem");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "usage error: {stderr}");
    assert!(stderr.contains("--synth-timeout"), "{stderr}");
    assert!(stderr.contains("must be at least 1 second"), "{stderr}");
    assert!(stderr.contains("--no-synth"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing written");
}
