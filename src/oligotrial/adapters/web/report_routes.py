"""The trial report through the API: ``GET /api/v1/trials/{trial}/report``. The caller's role
decides what it shows (a blinded role gets the arms pooled; see
:func:`oligotrial.service.report.report_for`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from oligotrial.adapters.web import api_models as api
from oligotrial.adapters.web.inputs import check_request_input
from oligotrial.adapters.web.security import Ctx, CurrentActor, TrialId
from oligotrial.errors import RecordError

router = api.DescribedRouter(prefix="/api/v1", dependencies=[Depends(check_request_input)])


@router.get(
    "/trials/{trial}/report",
    response_model=api.TrialReport,
    tags=["analysis"],
    summary="The trial report (oligotrial.trial-report/1) at a data cut; arms pooled for a blinded role",
)
def trial_report(
    ctx: Ctx,
    actor: CurrentActor,
    trial: TrialId,
    data_cut: Annotated[str | None, Query(max_length=10, description="ISO date; default today")] = None,
) -> dict:
    from oligotrial.service.report import report_for

    cut = None
    if data_cut is not None:
        try:
            cut = dt.date.fromisoformat(data_cut)
        except ValueError:
            raise RecordError(f"data_cut {data_cut!r}: expected an ISO date YYYY-MM-DD", field="data_cut") from None
    return report_for(ctx, actor, trial, data_cut=cut)
