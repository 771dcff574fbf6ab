"""The spawn form's HTML: the site's choices, the user's last choice selected."""

import html


def render_form(choices, selected):
    def option(name, value, show):
        chosen = " selected" if str(value) == str(selected.get(name)) else ""
        return f'<option value="{html.escape(str(value), quote=True)}"{chosen}>{html.escape(show(value))}</option>'

    def select(name, label, values, show=str):
        options = "".join(option(name, v, show) for v in values)
        return (
            f'<div class="form-group"><label for="cygnet-{name}">{label}</label>'
            f'<select class="form-control" id="cygnet-{name}" name="{name}">{options}</select></div>'
        )

    def text(name, label, hint):
        value = html.escape(str(selected.get(name) or ""), quote=True)
        return (
            f'<div class="form-group"><label for="cygnet-{name}">{label}</label>'
            f'<input class="form-control" type="text" id="cygnet-{name}" name="{name}" value="{value}" '
            f'placeholder="{html.escape(hint, quote=True)}"></div>'
        )

    return "\n".join(
        [
            select("view", "Software stack", choices.views, lambda v: v.replace("/", " / ")),
            select("cores", "Cores", choices.cores),
            select("memory", "Memory", choices.memory),
            select("cluster", "Spark cluster", ["none", *choices.clusters]),
            text("env_script", "Environment script (optional)", "a script in your workspace, run after setup"),
            text("open", "Open when ready (optional)", "a Git repository or notebook URL, or a path in your workspace"),
        ]
    )
