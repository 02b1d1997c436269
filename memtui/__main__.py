try:
    from memtui.cli import main
except KeyboardInterrupt:  # ctrl-c while starting up (a sweep stopped at once): nothing to say
    raise SystemExit(130) from None

main()
