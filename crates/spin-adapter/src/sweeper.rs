//! One sweep run with its effects carried out: the domain's step, then the
//! events it hands back and the webhooks due for a retry, then its mail in
//! provider batches no faster than `mail_max_per_second`. The `expire`
//! component's cron export and its HTTP route both call [`run`].

use crate::web::Ctx;
use crate::{mailer, webhooks};
use invitations::ops::sweep::{sweep, SweepReport};
use invitations_edge::problem::ApiError;

pub async fn run(ctx: &Ctx) -> Result<SweepReport, ApiError> {
    let run = sweep(&ctx.env())?;
    webhooks::publish(ctx, run.events);
    webhooks::redeliver(ctx, run.webhooks);
    let (_, deliveries) = mailer::deliver_paced(ctx, run.mails);
    webhooks::deliver(ctx, deliveries);
    Ok(run.report)
}
