# Cygnet's terminals start bash with this file: the user's own ~/.bashrc first, then the view's
# PATH (handed over as $CYGNET_TERMINAL_PATH) put in front again, so that `python`, `R` and
# `root` in a terminal are the view's, as in the notebook, even when ~/.bashrc adds pyenv or
# conda to the front of PATH.
if [ -f "$HOME/.bashrc" ]; then
  . "$HOME/.bashrc"
fi
if [ -n "${CYGNET_TERMINAL_PATH:-}" ]; then
  export PATH="$CYGNET_TERMINAL_PATH${PATH:+:$PATH}"
fi
unset CYGNET_TERMINAL_PATH
