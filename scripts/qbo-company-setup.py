#!/usr/bin/env python3
"""Creates what the demo mapping expects in a QuickBooks company (config/qbo-demo-company.json),
through the QuickBooks API, as an accountant would once.

usage: qbo-company-setup.py COMPANY_URL ACCESS_TOKEN SETUP_JSON
"""
import json
import sys
import urllib.parse
import urllib.request


def call(url, token, body=None):
    req = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                 "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def main(company, token, path):
    setup = json.load(open(path))
    for entity in ("Account", "PaymentMethod", "Item"):
        for body in setup.get(entity, []):
            body = dict(body)
            income = body.pop("IncomeAccount", None)
            if income:
                q = urllib.parse.quote(f"select * from Account where Name = '{income}'")
                found = call(f"{company}/query?query={q}", token)["QueryResponse"].get("Account", [])
                if not found:
                    sys.exit(f"account {income!r} not found for item {body['Name']!r}")
                body["IncomeAccountRef"] = {"value": found[0]["Id"]}
            call(f"{company}/{entity.lower()}", token, body)
            print(f"created {entity} {body['Name']}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
