"""The spawn form's HTML: the site's choices, the user's last choice selected."""

import html


def render_form(choices, selected, notes=()):
    def option(name, value, show):
        chosen = " selected" if str(value) == str(selected.get(name)) else ""
        return f'<option value="{html.escape(str(value), quote=True)}"{chosen}>{html.escape(show(value))}</option>'

    def explained(name, label, field, about):
        return (
            f'<div class="form-group"><label for="cygnet-{name}">{label}</label>{field}'
            f'<small class="form-text text-muted" id="cygnet-{name}-help">{html.escape(about)}</small></div>'
        )

    def select(name, label, values, about, show=str):
        options = "".join(option(name, v, show) for v in values)
        field = (
            f'<select class="form-control" id="cygnet-{name}" name="{name}" aria-describedby="cygnet-{name}-help">'
            f"{options}</select>"
        )
        return explained(name, label, field, about)

    def text(name, label, hint, about):
        value = html.escape(str(selected.get(name) or ""), quote=True)
        field = (
            f'<input class="form-control" type="text" id="cygnet-{name}" name="{name}" value="{value}" '
            f'placeholder="{html.escape(hint, quote=True)}" aria-describedby="cygnet-{name}-help">'
        )
        return explained(name, label, field, about)

    warnings = [f'<div class="alert alert-warning" role="alert">{html.escape(note)}</div>' for note in notes]
    return "\n".join(
        field
        for field in [
            *warnings,
            select(
                "view",
                "Software stack",
                choices.views,
                "The software every kernel and terminal of the session runs in; nothing to install.",
                choices.view_label,
            ),
            select(
                "cores", "Cores", choices.cores, "CPU cores the session may use (Spark's local mode uses them all)."
            ),
            select("memory", "Memory", choices.memory, "The most memory the session may take, kernels included."),
            select(
                "gpu",
                "GPU",
                ["none", *(g["name"] for g in choices.gpus)],
                "A GPU (or a slice of one) for the session; kernels see it as CUDA_VISIBLE_DEVICES.",
                choices.gpu_label,
            )
            if choices.gpus
            else "",
            select(
                "cluster",
                "Spark cluster",
                ["none", *choices.clusters],
                "Where the compute panel's Spark connects by default; you can change it in the session.",
            ),
            text(
                "env_script",
                "Environment script (optional)",
                "a script in your workspace, run after setup",
                "A bash script of yours, sourced after the stack's setup: your own variables and paths.",
            ),
            text(
                "open",
                "Open when ready (optional)",
                "a Git repository or notebook URL, or a path in your workspace",
                "Cloned or downloaded into your workspace and opened once the session is up.",
            ),
        ]
        if field
    )
