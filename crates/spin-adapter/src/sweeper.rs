//! One sweep run with its effects carried out: the domain's step, then the
//! mail and events it hands back, and the webhooks due for a retry. The
//! `expire` component's cron export and its HTTP route both call [`run`].

use crate::effects::carry_out;
use crate::web::Ctx;
use crate::webhooks;
use invitations::ops::sweep::{sweep, SweepReport};
use invitations_edge::problem::ApiError;

pub async fn run(ctx: &Ctx) -> Result<SweepReport, ApiError> {
    let run = sweep(&ctx.env())?;
    futures::join!(
        carry_out(ctx, run.mails, run.events),
        webhooks::redeliver(ctx, run.webhooks)
    );
    Ok(run.report)
}
