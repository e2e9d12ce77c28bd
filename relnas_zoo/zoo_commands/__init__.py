"""The zoo's own commands: ``info``, ``list``, ``demo``, ``plot``, ``export`` and ``bench`` (``models``)
and ``convert``. They sit above the library and, for ``convert --config`` (the authors' released
transfer models), above ``relnas_zoo.mm``, which they import only when asked."""
