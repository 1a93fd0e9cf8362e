"""What keeps itself current without a sensor: gold models and warehouse loads follow checked
silver declaratively, and silver says how fresh a dataset must be.

A silver partition is materialized as files land (the landings sensor reports them) and then
checked (the run that sensor requests). A model or warehouse load of that day is requested once
an upstream has updated and every blocking check of its upstream days passes against their
latest data, so nothing downstream is made from a day that is still arriving unchecked or that
failed a check; the in-asset gate (`gate_silver`) stays as the backstop for runs launched by hand.
"""

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from lambda_bridge.contracts import Contract

AUTOMATION_SENSOR = "gold_and_warehouse_automation"
# Today's partition (files arriving) and yesterday's (late files, the 02:00 gate's day). Older
# days are a backfill's job: a user asks for those.
RECENT = dt.timedelta(days=2)
# A dataset that arrives daily warns a day and an hour after its last file and turns red after
# two: one late producer is a warning, a silent one an incident.
WARN_AFTER = dt.timedelta(hours=25)
FAIL_AFTER = dt.timedelta(hours=49)


def after_checked_upstream(
    whole_history: Iterable[dg.AssetKey] = (),
) -> dg.AutomationCondition:
    """Requested for a recent day once an upstream updated and its days' blocking checks pass.

    `whole_history` are deps read in full (reference datasets): their updates count, but their
    checks are not awaited for every day they ever had.
    """
    ignored = dg.AssetSelection.assets(*whole_history)
    checks_pass = dg.AutomationCondition.all_deps_blocking_checks_passed().ignore(ignored)
    return (
        dg.AutomationCondition.in_latest_time_window(lookback_delta=RECENT)
        & dg.AutomationCondition.any_deps_updated().since_last_handled()
        & checks_pass
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after_checked_upstream")


def freshness(contract: Contract) -> dg.FreshnessPolicy | None:
    """How old silver's latest data may be: none for reference data or expected-empty days."""
    if contract.kind != "dataset" or not contract.expect_daily_data:
        return None
    return dg.FreshnessPolicy.time_window(fail_window=FAIL_AFTER, warn_window=WARN_AFTER)


def automation_sensor(targets: Iterable[dg.AssetKey]) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the conditions above; running from the start, like the landings sensor."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.assets(*targets),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description=(
            "Updates gold models and warehouse tables of today and yesterday when their "
            "upstream changed and its blocking checks pass."
        ),
    )
