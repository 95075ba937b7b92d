//! `cargo bench-app -- scale`: what an account's size costs. One account per
//! store is grown by 100-address invites to each size in turn; at each size,
//! `--rounds` rounds of invite one address → list the first page (50) →
//! cancel it. Prints each operation's p50 per size, the 100-address invites'
//! p50 while growing to it, and the largest value the store holds; then each
//! p50 at the largest size as a multiple of its p50 at the smallest.
//!
//! A command, not a test: it prints numbers and fails only when the app
//! answered something else than it should.

use crate::bench::{quantile, token, Backend, Samples, Target};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ScaleArgs {
    /// Addresses in the account at each measurement, ascending.
    pub sizes: Vec<usize>,
    pub rounds: usize,
    pub backends: Vec<Backend>,
    pub spin: Option<PathBuf>,
}

/// The columns, as [`crate::bench`] names the operations.
const COLUMNS: [(&str, &str); 4] = [
    ("invite 1 address", "invite"),
    ("list page (50)", "list page"),
    ("cancel", "cancel"),
    ("invite 100 addresses", "100-address invite"),
];

/// One size's p50 per column (ms), and the largest stored value (bytes).
struct Row {
    size: usize,
    p50: [Option<f64>; 4],
    /// The largest value in the store: its size and key.
    largest: Option<(String, u64)>,
}

fn p50(samples: &mut BTreeMap<&'static str, Samples>, op: &str) -> Option<f64> {
    let s = samples.get_mut(op)?;
    s.times.sort();
    (!s.times.is_empty()).then(|| quantile(&s.times, 0.5))
}

fn print_row(row: &Row) {
    let cells: Vec<String> = row
        .p50
        .iter()
        .map(|p| p.map_or("-".to_owned(), |p| format!("{p:.2}")))
        .collect();
    let (key, bytes) = row.largest.clone().unwrap_or_default();
    println!(
        "{:>10} {:>9} {:>10} {:>9} {:>19} {:>14}  {key}",
        row.size, cells[0], cells[1], cells[2], cells[3], bytes
    );
}

async fn run_backend(target: &Target, args: &ScaleArgs) -> anyhow::Result<Vec<Row>> {
    let owner = token("scale", "scale@example.com")?;
    let acc = target.create_account(&owner, "Scale").await?;
    let path = format!("/v1/accounts/{acc}/invitations");
    let page = format!("{path}?limit=50");
    println!(
        "{:>10} {:>9} {:>10} {:>9} {:>19} {:>14}",
        "addresses", "invite", "list page", "cancel", "100-address invite", "largest value"
    );
    let mut grown = 0usize;
    let mut rows = Vec::new();
    for &size in &args.sizes {
        let mut samples = BTreeMap::new();
        let s = &mut samples;
        while grown < size {
            let emails: Vec<String> = (grown..grown + 100)
                .map(|i| format!("g{i}@example.com"))
                .collect();
            target.invite_many(&path, &owner, &emails, s).await?;
            grown += 100;
        }
        for round in 0..args.rounds {
            let email = format!("s{size}-{round}@example.com");
            let id = target.invite_one(&path, &owner, &email, s).await?;
            target
                .call("list page (50)", "GET", &page, &owner, None, 200, s)
                .await?;
            let one = format!("{path}/{id}");
            target
                .call("cancel", "DELETE", &one, &owner, None, 200, s)
                .await?;
        }
        let row = Row {
            size,
            p50: COLUMNS.map(|(op, _)| p50(s, op)),
            largest: target.largest_value().await?,
        };
        print_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    println!(
        "one account grown by 100-address invites; at each size {} rounds of \
         invite 1 → list the first page (50) → cancel, one request at a time; p50 in ms; \
         largest value: the size in bytes and key of the largest value in the store",
        args.rounds
    );
    for backend in &args.backends {
        let target = Target::start(*backend, args.spin.as_ref(), 0).await?;
        println!("\n== {}", backend.describe(args.spin.as_ref()));
        let rows = run_backend(&target, &args).await?;
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            if rows.len() > 1 {
                let ratios: Vec<String> = COLUMNS
                    .iter()
                    .zip(first.p50.iter().zip(&last.p50))
                    .take(3)
                    .map(|((_, name), (a, b))| match (a, b) {
                        (Some(a), Some(b)) => format!("{name} {:.2}x", b / a),
                        _ => format!("{name} -"),
                    })
                    .collect();
                println!(
                    "p50 at {} addresses / p50 at {}: {}",
                    last.size,
                    first.size,
                    ratios.join(", ")
                );
            }
        }
    }
    Ok(())
}
