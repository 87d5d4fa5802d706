import threading

done = False


def finish():
    global done
    done = True  # RACE


def check():
    return done  # RACE


threads = [threading.Thread(target=finish), threading.Thread(target=check)]
for t in threads:
    t.start()
for t in threads:
    t.join()
