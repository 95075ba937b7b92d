//! Step: redeliver webhook events whose delivery failed.

use super::{SweepRun, Work};
use crate::ids::EventId;
use crate::ops::webhooks::{self, Claim};
use crate::queue::DueItem;
use crate::Env;

/// Claims each event's next attempt ([`webhooks::claim`]) and hands it back
/// to send; one whose attempts are used up is dropped and counted in
/// `webhooks_dropped`. Cost: 2 round trips each (3 to give one up).
pub(crate) fn redeliver(env: &Env, due: Vec<(EventId, u32)>, work: &mut Work, run: &mut SweepRun) {
    for (id, after) in due {
        match webhooks::claim(env, &id, after) {
            Ok(Claim::Retry(redelivery, next)) => {
                let after = redelivery.attempt;
                work.requeue.push((next, DueItem::Webhook { id, after }));
                run.report.webhooks += 1;
                run.webhooks.push(redelivery);
            }
            Ok(Claim::GaveUp) => run.report.webhooks_dropped += 1,
            Ok(Claim::Nothing) => {}
            Err(_) => work.failed(DueItem::Webhook { id, after }, &mut run.report),
        }
    }
}
