//! `cargo bench-app -- scale`: what an account's size costs. One account per
//! store is grown by 100-address invites to each size in turn; at each size,
//! `--rounds` rounds of invite one address → list the first page (50) →
//! cancel it. Prints each operation's p50 per size, the 100-address invites'
//! p50 while growing to it, and the largest value the store holds; then each
//! p50 at the largest size as a multiple of its p50 at the smallest.
//!
//! Sizes are minutes apart, and a shared machine's speed drifts over minutes
//! (on the 2-core VM this was written on, every operation was at times 1.5x
//! slower at one size than at the next, the list page included). So at each
//! size a new account, made for it, runs the same rounds alternating with the
//! grown one, and each p50 is also given as a multiple of the new account's
//! in the same rounds: the account's size alone, under the same conditions.
//! The new account's first page holds only the invitations its rounds made,
//! as does the grown account's at size 0; both counts are printed.
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
    /// A new account's p50 per round operation, in the same rounds.
    alongside: [Option<f64>; 3],
    /// The median number of invitations on the list page: the grown
    /// account's and the new account's.
    listed: (usize, usize),
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
        let fresh = target
            .create_account(&owner, &format!("Scale alongside {size}"))
            .await?;
        let fresh_path = format!("/v1/accounts/{fresh}/invitations");
        let mut fresh_samples = BTreeMap::new();
        let (mut listed, mut fresh_listed) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            // Alternate which goes first, so neither always follows the other.
            for grown_turn in [round % 2 == 0, round % 2 != 0] {
                let (path, samples, listed) = if grown_turn {
                    (&path, &mut *s, &mut listed)
                } else {
                    (&fresh_path, &mut fresh_samples, &mut fresh_listed)
                };
                let email = format!("s{size}-{round}-{grown_turn}@example.com");
                listed.push(one_round(target, path, &owner, &email, samples).await?);
            }
        }
        let row = Row {
            size,
            p50: COLUMNS.map(|(op, _)| p50(s, op)),
            alongside: [0, 1, 2].map(|i| p50(&mut fresh_samples, COLUMNS[i].0)),
            listed: (median(&mut listed), median(&mut fresh_listed)),
            largest: target.largest_value().await?,
        };
        print_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Invite one address → list the first page (50) → cancel it; returns how
/// many invitations the page held.
async fn one_round(
    target: &Target,
    path: &str,
    owner: &str,
    email: &str,
    s: &mut BTreeMap<&'static str, Samples>,
) -> anyhow::Result<usize> {
    let id = target.invite_one(path, owner, email, s).await?;
    let page = format!("{path}?limit=50");
    let listed = target
        .call("list page (50)", "GET", &page, owner, None, 200, s)
        .await?;
    let one = format!("{path}/{id}");
    target
        .call("cancel", "DELETE", &one, owner, None, 200, s)
        .await?;
    Ok(listed["data"].as_array().map_or(0, Vec::len))
}

fn median(counts: &mut [usize]) -> usize {
    counts.sort_unstable();
    counts.get(counts.len() / 2).copied().unwrap_or(0)
}

/// Each size's round operations as multiples of the new account's in the
/// same rounds.
fn print_alongside(rows: &[Row]) {
    println!(
        "\neach size's p50 / the p50 of a new account in the same rounds (alternating), \
         with the invitations each first page held (median)"
    );
    println!(
        "{:>10} {:>9} {:>10} {:>9} {:>14}",
        "addresses", "invite", "list page", "cancel", "listed (new)"
    );
    for row in rows {
        let cells: Vec<String> = (0..3)
            .map(|i| ratio(row.p50[i], row.alongside[i]))
            .collect();
        println!(
            "{:>10} {:>9} {:>10} {:>9} {:>14}",
            row.size,
            cells[0],
            cells[1],
            cells[2],
            format!("{} ({})", row.listed.0, row.listed.1)
        );
    }
}

fn ratio(of: Option<f64>, to: Option<f64>) -> String {
    match (of, to) {
        (Some(a), Some(b)) => format!("{:.2}x", a / b),
        _ => "-".to_owned(),
    }
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
        print_alongside(&rows);
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let named = |of: &[Option<f64>], to: &[Option<f64>]| {
                COLUMNS
                    .iter()
                    .zip(of.iter().zip(to))
                    .take(3)
                    .map(|((_, name), (a, b))| format!("{name} {}", ratio(*a, *b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if rows.len() > 1 {
                println!(
                    "p50 at {} addresses / p50 at {}: {}",
                    last.size,
                    first.size,
                    named(&last.p50, &first.p50)
                );
            }
            println!(
                "p50 at {} addresses / p50 of a new account in the same rounds: {}",
                last.size,
                named(&last.p50, &last.alongside)
            );
        }
    }
    Ok(())
}
