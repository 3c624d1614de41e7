"""A real SMTP server for the mail tests (aiosmtpd), listening on 127.0.0.1:PORT.

Each message it accepts is decoded with Python's own e-mail parser and written to OUT_DIR as
one JSON file ({"mailFrom", "rcptTos", "from", "to", "subject", "text", "html",
"contentType"}), renamed into place so a reader never sees half a file. A recipient whose
address starts with "refused" gets a permanent 550 refusal. Prints "ready" once listening and
runs until its standard input closes. With a certificate and key it speaks TLS: STARTTLS
(required before mail) or, with "implicit", TLS from the first byte (smtps).

    python3 smtp_sink.py PORT OUT_DIR [CERT_PEM KEY_PEM [starttls|implicit]]
"""

import json
import os
import ssl
import sys
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refused"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "contentType": message.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        self.count += 1
        name = os.path.join(self.out_dir, f"{os.getpid()}-{self.count:05d}.json")
        with open(name + ".tmp", "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    options = {}
    if len(sys.argv) > 3:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        if len(sys.argv) > 5 and sys.argv[5] == "implicit":
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
            options["require_starttls"] = True
    controller = Controller(Sink(out_dir), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
