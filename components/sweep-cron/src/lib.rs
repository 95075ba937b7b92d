//! `sweep-cron`: the cron trigger's way into the sweep ([`invitations_spin::sweeper`]),
//! every minute. The same sweep is `POST /v1/internal/sweep` on the `expire`
//! component; the two are apart so a platform without a cron trigger (SpinKube's
//! shim, edge platforms) runs every component but this one and calls the route
//! on a schedule of its own.

use invitations_edge::render;
use invitations_spin::sweeper;
use invitations_spin::web::{Ctx, Uses};

wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../wit/spin-cron",
});

struct Cron;

impl Guest for Cron {
    fn handle_cron_event(_metadata: Metadata) -> Result<(), Error> {
        // The sweep reads the clock itself; the trigger's timestamp adds nothing.
        spin_sdk::http::run(async {
            let ctx = Ctx::open(Uses::Sweep).map_err(|e| Error::Other(e.to_string()))?;
            let report = sweeper::run(&ctx)
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            eprintln!("sweep: {:?}", render::sweep_report(&report));
            Ok(())
        })
    }
}

export!(Cron);
