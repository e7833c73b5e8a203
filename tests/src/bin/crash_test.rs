//! The long crash test: `tests/scripts/crash-test.sh` runs this against the release binary.
//!
//! ```text
//! crash-test [--binary PATH] [--kills N] [--workers N] [--alive-ms LOW-HIGH] [--seed N]
//! ```
//!
//! Exits non-zero if any acknowledged delivery was lost or applied out of order.

use std::path::PathBuf;
use std::process::ExitCode;

use end_to_end::crash::{run, CrashConfig};

fn parse(args: &[String]) -> Result<CrashConfig, String> {
    let mut binary = None;
    let mut config = CrashConfig {
        binary: PathBuf::new(),
        workers: 32,
        kills: 10,
        alive_ms: (500, 3000),
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--binary" => binary = Some(PathBuf::from(value)),
            "--kills" => config.kills = number()? as usize,
            "--workers" => config.workers = number()? as usize,
            "--seed" => config.seed = number()?,
            "--alive-ms" => {
                let (low, high) = value
                    .split_once('-')
                    .ok_or_else(|| format!("--alive-ms {value}: expected LOW-HIGH"))?;
                let ms = |v: &str| v.parse::<u64>().map_err(|e| format!("--alive-ms: {e}"));
                config.alive_ms = (ms(low)?, ms(high)?);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    config.binary = binary.unwrap_or_else(end_to_end::binary::reference_receiver);
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("crash-test: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "crash test: {} with {} workers, {} kills, alive {}-{} ms between, seed {}",
        config.binary.display(),
        config.workers,
        config.kills,
        config.alive_ms.0,
        config.alive_ms.1,
        config.seed
    );
    let report = run(config).await;
    println!("{report}");
    if report.lost == 0 && report.out_of_order == 0 && report.acknowledged > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
