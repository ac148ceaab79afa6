"""An SMTP server on Debian's aiosmtpd for the email tests: an
implementation this project did not write. It listens on 127.0.0.1:PORT,
prints "ready" once it accepts connections and "delivered <Message-ID>" for
each message it accepts, and runs until killed.

--refuse-auth  offers AUTH (PLAIN, LOGIN, without TLS) and refuses every login
--refuse-sender answers MAIL FROM with 553 5.7.1 (sender domain refused)
"""
import argparse
import email
import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, refuse_sender):
        self.refuse_sender = refuse_sender

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "553 5.7.1 <%s>: Sender address rejected: not owned by this server" % address
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        print("delivered", msg.get("Message-Id", "").strip(), flush=True)
        return "250 Message accepted for delivery"


def refuse(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--refuse-auth", action="store_true")
    p.add_argument("--refuse-sender", action="store_true")
    a = p.parse_args()
    kw = {}
    if a.refuse_auth:
        kw = dict(authenticator=refuse, auth_require_tls=False, auth_required=False)
    c = Controller(Handler(a.refuse_sender), hostname="127.0.0.1", port=a.port, **kw)
    c.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
