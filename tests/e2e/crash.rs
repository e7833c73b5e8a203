//! The short crash test (two SIGKILLs under load against the debug binary); the long one is
//! `tests/scripts/crash-test.sh`.

use end_to_end::crash::{run, CrashConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_delivery() {
    let report = run(CrashConfig {
        binary: end_to_end::binary::reference_receiver(),
        workers: 8,
        kills: 2,
        alive_ms: (300, 800),
        seed: 0x5eed,
    })
    .await;
    eprintln!("{report}");
    assert!(report.acknowledged > 50, "load ran: {report}");
    assert_eq!(report.kills, 3);
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.out_of_order, 0, "{report}");
    assert_eq!(report.duplicates_confirmed, report.acknowledged);
}
