//! An audit log grove cannot open (here a directory where the file should be, which stops root
//! as well) is an error with exit code 1, never a panic. The real binary, real git.

use crate::support::*;

#[test]
fn merge_with_an_audit_log_that_cannot_be_opened_exits_1_and_merges_nothing() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(&Plan::new().shell_task("t", "echo hi > hi.txt").to_toml());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&results, "t")["status"], "succeeded");
    let run_id = run_id(&out);
    let audit = repo.run_dir(&run_id).join("audit.log");
    std::fs::remove_file(&audit).unwrap();
    std::fs::create_dir(&audit).unwrap();
    let head = repo.git(&["rev-parse", "HEAD"]);

    let merge = repo.grove(&["merge", &run_id, "t"]);

    assert_eq!(merge.status.code(), Some(1), "{}", text(&merge));
    let stderr = String::from_utf8_lossy(&merge.stderr);
    assert!(stderr.contains("cannot open the audit log"), "{stderr}");
    assert!(stderr.contains("audit.log: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
}
