"""A client generated from openapi/openapi.json by openapi-python-client, against a Vigil gateway:
every answer is parsed into the generated models (so a field, enum value or status the document
does not declare fails here). Lists with $filter/$top/$count and walks every page through the
$skiptoken of @odata.nextLink, gets one alert, PATCHes it with If-Match and reads it back, checks
a stale ETag gets 412, counts, reads risky users and risk detections, and parses a 404 as the
documented ODataError. Exits non-zero on any failure. Run by scripts/sdk-check.sh.
Usage: python openapi_client_smoke.py BASE_URL TOKEN"""
import sys
import time
from urllib.parse import parse_qs, urlparse

from vigil_client import AuthenticatedClient
from vigil_client.api.alerts import count_alerts, get_alert, list_alerts, update_alert
from vigil_client.api.identity import list_risk_detections, list_risky_users
from vigil_client.models import (
    MicrosoftGraphAlert,
    MicrosoftGraphAlertCollectionResponse,
    MicrosoftGraphODataErrorsODataError,
    UpdateAlertBody,
)

base, token = sys.argv[1], sys.argv[2]
client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

first = list_alerts.sync_detailed(client=client, filter_="severity eq 'high'", top=3, count=True)
assert first.status_code == 200, first.status_code
page = first.parsed
assert isinstance(page, MicrosoftGraphAlertCollectionResponse), type(page)
total = page.odata_count
print("page1", len(page.value), "count", total)
ids = set()
pages = 0
while True:
    pages += 1
    for a in page.value:
        assert a.severity == "high" or a.severity.value == "high", a.severity
        assert a.id not in ids, a.id
        ids.add(a.id)
    if not page.odata_next_link:
        break
    skiptoken = parse_qs(urlparse(page.odata_next_link).query)["$skiptoken"][0]
    page = list_alerts.sync(client=client, filter_="severity eq 'high'", top=3, count=True, skiptoken=skiptoken)
print("walked", pages, "pages", len(ids), "alerts")
assert len(ids) == total, f"walk {len(ids)} != @odata.count {total}"

alert_id = sorted(ids)[0]
got = get_alert.sync_detailed(alert_id, client=client)
assert got.status_code == 200 and isinstance(got.parsed, MicrosoftGraphAlert), got.status_code
etag = got.headers["etag"]
vendor = got.parsed.vendor_information
assignee = f"generated-{int(time.time() * 1000)}@contoso.com"
body = UpdateAlertBody.from_dict({
    "assignedTo": assignee,
    "status": "inProgress",
    "vendorInformation": {"provider": vendor.provider, "vendor": vendor.vendor},
})
patched = update_alert.sync_detailed(alert_id, client=client, body=body, if_match=etag, prefer="return=representation")
assert patched.status_code == 200, (patched.status_code, patched.content[:300])
assert isinstance(patched.parsed, MicrosoftGraphAlert)
assert patched.parsed.assigned_to == assignee
stale = update_alert.sync_detailed(alert_id, client=client, body=body, if_match=etag)
assert stale.status_code == 412, stale.status_code
assert isinstance(stale.parsed, MicrosoftGraphODataErrorsODataError)
print("patched", alert_id, patched.parsed.assigned_to, "; stale If-Match ->", stale.parsed.error.code)

n = count_alerts.sync_detailed(client=client)
assert n.status_code == 200 and int(n.content) >= len(ids), n.content
users = list_risky_users.sync(client=client, top=5)
detections = list_risk_detections.sync(client=client, top=5)
print("$count", int(n.content), "riskyUsers", len(users.value), "riskDetections", len(detections.value))
assert users.value and detections.value

missing = get_alert.sync_detailed("does-not-exist", client=client)
assert missing.status_code == 404, missing.status_code
assert isinstance(missing.parsed, MicrosoftGraphODataErrorsODataError), type(missing.parsed)
assert missing.parsed.error.code == "NotFound"
assert missing.parsed.error.inner_error.request_id
print("404 ->", missing.parsed.error.code)
print("generated client: ok")
