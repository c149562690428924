//! The load run of `examples/load`, scaled for CI: many tenants calling at
//! once through a pooled runtime, a tenth of the identity answers faulty.
//! Every call must come back, as a token or as an error a fault explains.
//! The full run (1,000 tenants × 20 calls, 100,000-call soak) is
//! `cargo run --release -p azmi --example load`.

use azmi::{Pooling, Runtime};
use azmi_testkit::load::{Load, round};

use crate::support::{cache_dir, emulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tenants_under_faults_get_an_answer_for_every_call() {
    let runtime = Runtime::builder()
        .pooling(Pooling::default().instances(64))
        .cache_dir(cache_dir())
        .build()
        .unwrap();
    let emulator = emulator().await;
    let load = Load {
        tenants: 100,
        calls_per_tenant: 5,
        fault_percent: 10,
    };
    for seed in [1, 2] {
        let outcome = round(&runtime, &emulator, load, seed).await;
        assert!(outcome.unexpected.is_empty(), "{:?}", outcome.unexpected);
        // The faults were served (retries took more requests than calls),
        // connections were reused, and most calls got through.
        assert!(outcome.requests > load.calls() as u64, "{outcome:?}");
        assert!(outcome.connections < outcome.requests, "{outcome:?}");
        assert!(outcome.succeeded >= outcome.calls() * 8 / 10, "{outcome:?}");
    }
}
