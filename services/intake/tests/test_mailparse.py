"""The pure mail parser against the real corpus and against mails composed for each rule."""

import pytest

from intake import mailparse
from tests import corpus


@pytest.mark.parametrize("path", corpus.FILES, ids=[corpus.name(p) for p in corpus.FILES])
def test_every_corpus_mail_parses_to_its_expected_sender_subject_and_files(path):
    mail = mailparse.parse(path.read_bytes())

    assert (
        corpus.mismatches(
            path,
            mail.from_email,
            mail.from_name,
            mail.subject,
            [a.filename for a in mail.attachments],
        )
        == []
    )
    assert mail.text or mail.html is not None or mail.attachments or mail.subject is not None


def compose(headers: str, body: str = "Hello", *, ctype: str = "text/plain") -> bytes:
    return (
        "From: Li Wei <li.wei@customer.example.cn>\r\nTo: support@aftercare.example\r\n"
        f"Message-ID: <m1@customer.example.cn>\r\nContent-Type: {ctype}; charset=utf-8\r\n"
        f"{headers}\r\n{body}"
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\r\nSubject: Re: hello\r\n",
        "X-Autoreply: yes\r\nSubject: hello\r\n",
        "X-Autorespond: on\r\nSubject: hello\r\n",
        "Precedence: bulk\r\nSubject: newsletter\r\n",
        "Precedence: junk\r\nSubject: hello\r\n",
        "Precedence: list\r\nSubject: hello\r\n",
        "Precedence: auto_reply\r\nSubject: hello\r\n",
        "X-Auto-Response-Suppress: All\r\nSubject: hello\r\n",
        "Return-Path: <>\r\nSubject: hello\r\n",
        "Subject: Out of Office: back on Monday\r\n",
        "Subject: Automatic reply: your request\r\n",
        "Subject: 自动回复\uff1a我正在休假\r\n",
        "Subject: 自动答复: 不在办公室\r\n",
        "Subject: =?UTF-8?B?6Ieq5Yqo5Zue5aSN77ya5aSW5Ye6?=\r\n",
    ],
)
def test_auto_replies_are_recognised_by_each_signal(headers):
    assert mailparse.parse(compose(headers)).loop_signal is not None


def test_a_report_and_a_mailer_daemon_are_bounces():
    report = compose(
        "Subject: failure\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n",
        ctype='multipart/report; report-type=delivery-status; boundary="b"',
    )
    daemon = compose("Subject: hello\r\n").replace(b"Li Wei <li.wei", b"<MAILER-DAEMON")

    assert "report" in mailparse.parse(report).loop_signal
    assert mailparse.parse(daemon).loop_signal is not None


def test_an_ordinary_mail_has_no_loop_signal():
    assert mailparse.parse(compose("Subject: 回复: [#100042] 交换机故障\r\n")).loop_signal is None


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[#100042] Core switch down", 100042),
        ("回复: [#100042] 交换机故障", 100042),
        ("答复\uff1a转发: [#100043] x", 100043),
        ("AW: SV: VS: Re: Fwd: [#100044] y", 100044),
        ("Re: #100045 without brackets", None),
        ("Invoice 100046", None),
    ],
)
def test_the_ticket_tag_is_found_behind_any_reply_prefix(subject, number):
    assert mailparse.ticket_number(subject) == number


def test_gb2312_that_is_really_gbk_decodes_as_gb18030():
    text = "镕钅"  # GBK-only characters, outside GB2312
    raw = compose("Subject: x\r\n", "").replace(b"charset=utf-8", b"charset=gb2312")
    mail = mailparse.parse(raw + text.encode("gbk"))

    assert mail.text == text


def test_html_only_mail_is_sanitised_and_gets_a_text_body():
    raw = compose(
        "Subject: html\r\n",
        '<p onclick="x()">Hi <b>there</b></p><script>alert(1)</script><img src="cid:a@b">',
        ctype="text/html",
    )
    mail = mailparse.parse(raw)

    assert "script" not in mail.html and "onclick" not in mail.html
    assert 'src="cid:a@b"' in mail.html
    assert mail.text == "Hi there"


def test_the_text_of_html_has_its_blocks_rows_and_items_on_lines_of_their_own():
    markup = (
        "<html><head><title>Newsletter</title><style>p { color: red }</style></head><body>"
        "<h1>Fault</h1><p>Disk &amp; fan<br>failed&nbsp;again</p>"
        "<table><tr><td>Model<td>X1<tr><td>Site<td>Room   4</table>"
        "<ul><li>one<li>two</ul><script>document.write('no')</script></body></html>"
    )

    text = mailparse.clean_html_text(mailparse.sanitise_html(markup))

    assert text == "Fault\n\nDisk & fan\nfailed again\n\nModel X1\nSite Room 4\n\none\ntwo"


def test_an_empty_body_is_unreadable():
    with pytest.raises(mailparse.Unreadable):
        mailparse.parse(b"  \r\n")


def test_the_whole_corpus_is_there():
    """The corpus sits beside the repository (../shared); without it the tests above would
    quietly run on nothing."""
    assert len(corpus.FILES) >= 120, f"found {len(corpus.FILES)} mails under {corpus.CORPUS}"
