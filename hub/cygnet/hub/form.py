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

    return "\n".join(
        [
            select("view", "Software stack", choices.views, lambda v: v.replace("/", " / ")),
            select("cores", "Cores", choices.cores),
            select("memory", "Memory", choices.memory),
            select("cluster", "Spark cluster", ["none", *choices.clusters]),
        ]
    )
