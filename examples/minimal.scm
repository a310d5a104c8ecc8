;; A minimal Fruix system on the linux-busybox base: one operator account,
;; logging, a serial getty and a small web server on port 8080.
(use-modules (fruix system) (fruix services))

(define alice
  (user-account
    (name "alice")
    (uid 1000)
    (group "users")
    (supplementary-groups (list "operators"))
    (comment "Alice the operator")))

(define my-operating-system
  (operating-system
    (host-name "fruix-minimal")
    (base (linux-busybox-base))
    (groups (list (user-group (name "operators") (gid 1100))))
    (users (list alice))
    (services
      (list (service syslogd-service-type)
            (service klogd-service-type)
            (service getty-service-type
                     (getty-configuration (tty "ttyS0")))
            (service httpd-service-type
                     (httpd-configuration
                       (port 8080)
                       (index "Hello from fruix-minimal\n")))))))
