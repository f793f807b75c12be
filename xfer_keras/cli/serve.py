"""CLI command ``serve``: the local web app (:mod:`xfer_keras.web`).

    python -m xfer_keras serve [--host 127.0.0.1] [--port 8000] [--model M] [--max-photo-mb 20]
                               [--max-clip-mb 200] [--max-clip-seconds 120]

It binds to the loopback address unless ``--host`` says otherwise; the LLM narrator is offered
when the server's environment holds a key (``XFER_LLM_API_KEY`` or ``OPENAI_API_KEY``), which
never reaches the page or the JSON.
"""

from __future__ import annotations

import ipaddress
import sys

from xfer_keras.native_logs import quiet_command


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="a local web page: drop a photo or a clip, see the "
                                            "explanation (JSON API at /api/explain, /api/emo)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default %(default)s: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default=None, help="a .keras classifier (default: the shipped one)")
    p.add_argument("--au-source", default="blendshapes", help="as for explain (default %(default)s)")
    p.add_argument("--emo-models", default=None, help="an EMO net set folder (default: shipped)")
    p.add_argument("--llm-base-url", default=None, help="OpenAI-compatible server for the LLM narrator")
    p.add_argument("--max-photo-mb", type=float, default=20.0)
    p.add_argument("--max-clip-mb", type=float, default=200.0)
    p.add_argument("--max-clip-seconds", type=float, default=120.0)
    p.add_argument("--video-fps", type=float, default=5.0, help="frames explained per second of a clip")
    p.set_defaults(func=quiet_command(_serve), startup=("dlib", "engine", "mediapipe"))


def _serve(args) -> int:
    import uvicorn

    from xfer_keras.web.app import create_app
    from xfer_keras.web.service import ServeSettings
    from xfer_keras.web.uploads import Limits

    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: serving on {args.host}: anyone who can reach it can upload files",
              file=sys.stderr)
    settings = ServeSettings(model=args.model, au_source=args.au_source,
                             emo_models=args.emo_models, llm_base_url=args.llm_base_url,
                             video_fps=args.video_fps,
                             limits=Limits(args.max_photo_mb, args.max_clip_mb,
                                           args.max_clip_seconds))
    print(f"xfer-keras: http://{args.host}:{args.port}/ (Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0
