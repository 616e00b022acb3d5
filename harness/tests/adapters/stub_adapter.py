#!/usr/bin/env python3
"""A stub client adapter for the harness protocol (harness/PROTOCOL.md), driven by a script.

Usage: stub_adapter.py SCRIPT.json. The script maps "start" and step numbers ("1", "2", ...)
to what to do when that message arrives:
  an object          print it as the answer line
  "hang"             never answer
  "crash"            write a message on stderr and exit 3
  "garbage"          print a line that is not JSON
  "wrong-version"    answer with "protocol": 99
Unlisted messages get an empty answer. "stop" (or the end of stdin) exits 0.
"""
import json
import sys
import time

PROTOCOL = 2
EMPTY = {"protocol": PROTOCOL, "response": None, "sends": []}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        script = json.load(f)
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("protocol") != PROTOCOL:
            sys.exit("stub: protocol %r not spoken here" % message.get("protocol"))
        if message["op"] == "stop":
            return
        key = "start" if message["op"] == "start" else str(message["n"])
        action = script.get(key, EMPTY)
        if action == "hang":
            while True:
                time.sleep(3600)
        elif action == "crash":
            sys.stderr.write("stub: crashing at %s as scripted\n" % key)
            sys.stderr.flush()
            sys.exit(3)
        elif action == "garbage":
            say("this is not JSON at %s" % key)
        elif action == "wrong-version":
            say(json.dumps(dict(EMPTY, protocol=99)))
        else:
            say(json.dumps(action, separators=(",", ":")))


if __name__ == "__main__":
    main()
