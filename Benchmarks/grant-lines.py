#!/usr/bin/env python3
"""Prints one line per seeded grant, "/v1/grants/{id}/data TOKEN", for Benchmarks/disclosure.lua: an access token is
fetched for each seeded organisation from the running server.

    Benchmarks/grant-lines.py FIXTURE.json http://127.0.0.1:PORT > lines.txt
"""
import base64, json, sys, urllib.request

fixture, base = json.load(open(sys.argv[1])), sys.argv[2]
for org in fixture["organisations"]:
    basic = base64.b64encode(f'{org["client_id"]}:{org["client_secret"]}'.encode()).decode()
    req = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials",
                                 headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    token = json.load(urllib.request.urlopen(req))["access_token"]
    for grant in org["grants"]:
        print(f"/v1/grants/{grant}/data {token}")
