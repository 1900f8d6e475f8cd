"""Every reason code and how it reads, in French and English, theme by theme.

A code names a decision or an event, not a sentence: two places that decide the same say
the same code, and read the same. Parameters are documented by the templates themselves
(``{until:moment}``: see ``gtb.texts`` for the format specs).
"""

from __future__ import annotations

from collections.abc import Callable

from gtb.texts import Lang, Reason
from gtb.texts.watch import WATCH_WRITERS

Template = tuple[str, str]

_GENERAL: dict[str, Template] = {
    "empty": ("", ""),
    "said": ("{fr}", "{en}"),
    "level.comfort": ("confort", "comfort"),
    "level.reduced": ("réduit", "reduced"),
    "level.frost_protection": ("hors-gel", "frost protection"),
    "level.off": ("arrêt", "off"),
    "quality.ok": ("valide", "ok"),
    "quality.stale": ("figée", "stale"),
    "quality.failed": ("en défaut", "failed"),
}

_ENGINE: dict[str, Template] = {
    "engine.started": ("Moteur démarré", "Engine started"),
    "engine.points": ("{points} points, site {site}", "{points} points, site {site}"),
    "engine.stopped": ("Moteur arrêté", "Engine stopped"),
    "engine.points_released": ("points libérés (rendus à l'automate en BACnet, laissés à "
                               "leur dernière valeur en Modbus)",
                               "points released (handed back to the controller in BACnet, "
                               "left at their last value in Modbus)"),
    "engine.points_held": ("points maintenus", "points held"),
    # reading and alarms
    "device.modbus": ("Modbus TCP {address} (unité {unit})", "Modbus TCP {address} (unit {unit})"),
    "device.bacnet": ("BACnet/IP {address} (appareil {unit})",
                      "BACnet/IP {address} (device {unit})"),
    "device.silent": ("{device} ne répond plus : {cause} — {consequences:and}",
                      "{device} does not answer: {cause} — {consequences:and}"),
    "consequence.degraded": ("zones en mode dégradé", "zones in degraded mode"),
    "consequence.held": ("{names} : dernier état maintenu par l'appareil, rétabli dès qu'il "
                         "répond",
                         "{names}: last state held by the device, restored as soon as it "
                         "answers"),
    "consequence.failed": ("points en défaut", "points failed"),
    "point.unreadable": ("{key} illisible : {cause}", "{key} unreadable: {cause}"),
    "point.unreadable_degraded": ("{key} illisible : {cause} — zone en mode dégradé",
                                  "{key} unreadable: {cause} — zone in degraded mode"),
    "alarm.raised": ("Alarme : {alarm}", "Alarm: {alarm}"),
    "alarm.cleared": ("Fin d'alarme : {alarm}", "Alarm over: {alarm}"),
    "alarm.read_failure": ("défaut de lecture", "read failure"),
    "alarm.reading_again": ("lecture rétablie", "reading again"),
    "alarm.threshold": ("seuil", "threshold"),
    "decision.failed": ("aucune décision pour {zone}, le calcul a échoué ({error})",
                        "no decision for {zone}, the computation failed ({error})"),
    "decision.not_a_number": ("{key} : la décision n'est pas un nombre — repli sûr sur "
                              "{value:g}",
                              "{key}: the decision is not a number — safe fallback to "
                              "{value:g}"),
    "alarm.safe_fallback": ("repli sûr", "safe fallback"),
    "alarm.no_heat": ("hors-gel sans chauffage disponible", "frost protection with no heat "
                      "available"),
    "alarm.heat_again": ("chauffage de nouveau disponible, ou zone hors de danger",
                         "heat available again, or the zone out of danger"),
    "alarm.deciding_again": ("décisions de nouveau numériques", "decisions are numbers again"),
    # decisions
    "zone.degraded": ("Mode dégradé, température inconnue : programme sans optimisation. "
                      "{decision}",
                      "Degraded mode, temperature unknown: programme without optimisation. "
                      "{decision}"),
    "learning.nightly": ("Apprentissage de la nuit", "Nightly learning"),
    "learning.fitted": ("{fitted} zone(s) sur {zones} ont un modèle thermique",
                        "{fitted} zone(s) of {zones} have a thermal model"),
    "thermal.no_cooldown": ("pas de modèle thermique : {hours:number} h de refroidissement "
                            "observées sur {needed:number} h nécessaires",
                            "no thermal model: {hours:number} h of cool-down seen of the "
                            "{needed:number} h needed"),
    "thermal.no_warmup": ("pas de modèle thermique : aucune relance observée",
                          "no thermal model: no warm-up seen"),
    "thermal.at_bound": ("modèle thermique refusé : un paramètre est en butée",
                         "thermal model refused: a parameter is at its bound"),
    "thermal.not_informed": ("modèle thermique refusé : l'historique ne dit pas encore la "
                             "vitesse de refroidissement",
                             "thermal model refused: the history does not tell the cooling "
                             "rate yet"),
    "thermal.uncertain": ("modèle thermique refusé : relance incertaine à "
                          "{minutes:duration} près (limite {limit:duration})",
                          "thermal model refused: warm-up uncertain by {minutes:duration} "
                          "(limit {limit:duration})"),
    "thermal.unreadable": ("modèle thermique enregistré illisible : {error}",
                           "stored thermal model unreadable: {error}"),
    "programme.unreadable": ("Programme enregistré {zone:de} illisible",
                             "Saved programme of {zone} unreadable"),
    "programme.site_file_applies": ("version {version} ({errors} erreur(s)) : programme du "
                                    "fichier du site appliqué",
                                    "version {version} ({errors} error(s)): the site file's "
                                    "programme applies"),
    "programme.applied": ("Programme {zone:de} appliqué", "Programme of {zone} applied"),
    "programme.version": ("version {version} {who:de}", "version {version} by {who}"),
    "programme.site_file": ("programme du fichier du site", "the site file's programme"),
    # arbitration
    "override": ("Dérogation {who:de} jusqu'à {until:moment} : {why}",
                 "Override by {who} until {until:moment}: {why}"),
    "override.replaced": ("remplacée par la dérogation n° {id}", "replaced by override {id}"),
    "safety.capped": ("{decision} — plafonné à {value:temperature} (limite de sécurité)",
                      "{decision} — capped at {value:temperature} (safety bound)"),
    "safety.frost_floor": ("{decision} — relevé au plancher hors-gel {value:temperature} "
                           "(limite de sécurité)",
                           "{decision} — raised to the frost floor {value:temperature} "
                           "(safety bound)"),
    "safety.dimming": ("{decision} — ramené à {level:whole} %",
                       "{decision} — limited to {level:whole} %"),
    "safety.kept_on": ("{decision} — maintenu en marche encore {wait} s (durée minimale de "
                       "protection)",
                       "{decision} — kept on {wait} s more (minimum time protecting the "
                       "equipment)"),
    "safety.kept_off": ("{decision} — maintenu en arrêt encore {wait} s (durée minimale de "
                        "protection)",
                        "{decision} — kept off {wait} s more (minimum time protecting the "
                        "equipment)"),
    "safety.fallback": ("{decision} — {asked} n'est pas un nombre : repli sûr sur {value:g}",
                        "{decision} — {asked} is not a number: safe fallback to {value:g}"),
    # writing
    "command.value": ("{key} ← {value:g}", "{key} ← {value:g}"),
    "command.failed": ("Commande {key:de} impossible : {error}",
                       "Command of {key} failed: {error}"),
    "command.write_failed": ("Écriture {key:de} impossible", "Writing {key} failed"),
    "command.restored": ("Fin d'alarme : commande {key:de} rétablie",
                         "Alarm over: command of {key} restored"),
    "command.written": ("écriture réussie", "written"),
    "command.restoring": ("{key} ← {value:g} de nouveau", "{key} ← {value:g} again"),
    "command.device_back": ("l'appareil répond de nouveau : il a pu redémarrer et perdre "
                            "ses commandes",
                            "the device answers again: it may have restarted and lost its "
                            "commands"),
    "command.read_back_invalid": ("l'appareil a relu {value:g} sur un point commandé, "
                                  "hors plage : il a redémarré ou perdu ses commandes",
                                  "the device read back {value:g} on a commanded point, out "
                                  "of range: it restarted or lost its commands"),
    "command.release_failed": ("Libération {key:de} impossible", "Releasing {key} failed"),
    "command.released": ("{key} libéré", "{key} released"),
    "command.unused": ("plus aucune commande : point rendu à l'automate",
                       "no command any more: point handed back to the controller"),
    "command.engine_stopped": ("arrêt du moteur : point rendu à l'automate",
                               "engine stopped: point handed back to the controller"),
    "command.kept": ("{key} laissé à sa dernière valeur", "{key} left at its last value"),
    "command.unused_kept": ("plus aucune commande : Modbus n'a pas de priorités, l'appareil "
                            "garde la dernière valeur écrite",
                            "no command any more: Modbus has no priorities, the device keeps "
                            "the last value written"),
    "command.engine_stopped_kept": ("arrêt du moteur : Modbus n'a pas de priorités, "
                                    "l'appareil garde la dernière valeur écrite",
                                    "engine stopped: Modbus has no priorities, the device "
                                    "keeps the last value written"),
    "command.held": ("Commande locale prioritaire sur {key} (priorité {priority})",
                     "Local command in force on {key} (priority {priority})"),
    "command.held_why": ("une commande de priorité {priority}, plus forte que celle du "
                         "moteur ({ours}), tient le point : le moteur n'y écrit plus tant "
                         "qu'elle n'est pas levée",
                         "a command at priority {priority}, above the engine's ({ours}), "
                         "holds the point: the engine stops writing it until it is "
                         "relinquished"),
    "command.resumed": ("{key} : le moteur reprend la main", "{key}: the engine resumes"),
    "command.relinquished": ("la commande locale prioritaire a été levée",
                             "the local command was relinquished"),
    "command.rewritten": ("{key} réécrit {count} fois en une heure sans changement de "
                          "commande : l'appareil ne garde pas la valeur envoyée",
                          "{key} written {count} times in an hour with no change of "
                          "command: the device does not keep the value sent"),
    "command.not_kept": ("relecture différente de la valeur écrite",
                         "read back differs from the value written"),
    "command.device_keeps": ("l'appareil garde la valeur écrite",
                             "the device keeps the value written"),
    # bindings checked against the devices
    "binding.problem": ("Liaison {key:de} : {problem}", "Binding of {key}: {problem}"),
    "binding.checked": ("vérification des liaisons au démarrage",
                        "bindings checked at start"),
    "binding.refused": ("{key} ne sera pas commandé : {problem}",
                        "{key} will not be commanded: {problem}"),
    "binding.unchecked": ("liaisons non vérifiées, appareil injoignable : {error}",
                          "bindings not checked, the device cannot be reached: {error}"),
}

_MQTT: dict[str, Template] = {
    "device.mqtt": ("MQTT {address}", "MQTT {address}"),
    "mqtt.silent": ("{topic} : aucun message depuis {age:whole} s, un attendu toutes les "
                    "{interval:whole} s",
                    "{topic}: no message for {age:whole} s, one expected every "
                    "{interval:whole} s"),
    "mqtt.nothing_yet": ("{topic} : aucun message reçu depuis la connexion au courtier "
                         "(rien de publié, ou la liste d'accès du courtier ne le permet pas)",
                         "{topic}: no message received since the broker was reached "
                         "(nothing published, or the broker's access list denies it)"),
    "mqtt.unreachable": ("courtier MQTT {broker} injoignable : {cause}",
                         "MQTT broker {broker} unreachable: {cause}"),
    "mqtt.bad_login": ("le courtier refuse l'identifiant ou le mot de passe (utilisateur "
                       "{user}, mot de passe lu dans GTB_MQTT_PASSWORD)",
                       "the broker refuses the user name or password (user {user}, "
                       "password read from GTB_MQTT_PASSWORD)"),
    "mqtt.untrusted": ("le certificat du courtier n'est pas signé par l'autorité attendue "
                       "(ca_file) : {cause}",
                       "the broker's certificate is not signed by the expected authority "
                       "(ca_file): {cause}"),
    "mqtt.subscription_refused": ("le courtier refuse l'abonnement à {topic} (liste "
                                  "d'accès)",
                                  "the broker refuses the subscription to {topic} (access "
                                  "list)"),
    "mqtt.not_json": ("{topic} : le message n'est pas du JSON ({payload})",
                      "{topic}: the message is not JSON ({payload})"),
    "mqtt.no_path": ("{topic} : pas de {path} dans le message ({payload})",
                     "{topic}: no {path} in the message ({payload})"),
    "mqtt.not_number": ("{topic} : {path} vaut {found}, pas un nombre",
                        "{topic}: {path} is {found}, not a number"),
    "mqtt.bare_value": ("la valeur", "the value"),
}
_LORAWAN: dict[str, Template] = {
    "device.lorawan": ("l'appareil LoRaWAN {address}", "LoRaWAN device {address}"),
    "lorawan.silent": ("{device} : aucune remontée depuis {since:moment} (attendue toutes "
                       "les {interval:g} min)",
                       "{device}: no uplink since {since:moment} (expected every "
                       "{interval:g} min)"),
    "lorawan.nothing_yet": ("{device} : aucune remontée reçue depuis le démarrage",
                            "{device}: no uplink received since the start"),
    "lorawan.bad_message": ("{device} : message illisible du serveur de réseau ({error})",
                            "{device}: unreadable message from the network server ({error})"),
    "lorawan.no_field": ("{device} : les remontées n'ont pas de champ {field}",
                         "{device}: the uplinks have no field {field}"),
    "lorawan.not_number": ("{device} : le champ {field} n'est pas un nombre ({found})",
                           "{device}: field {field} is not a number ({found})"),
    "lorawan.budget": ("{device} : les {budget:whole} envois radio du {day:date} sont faits, "
                       "{value:g} n'est pas envoyé",
                       "{device}: the {budget:whole} downlinks of {day:date} are spent, "
                       "{value:g} is not sent"),
    # a device's battery and radio link (gtb.engine.alarms.LorawanAlarms)
    "lorawan.battery_low": ("{device} : pile à {level:whole} % (seuil {low:whole} %) — "
                            "changer la pile, ou l'appareil si sa pile ne se change pas",
                            "{device}: battery at {level:whole}% (threshold {low:whole}%) — "
                            "replace the battery, or the device if it cannot be replaced"),
    "lorawan.link_weak": ("{device} : liaison radio faible sur les {uplinks:whole} dernières "
                          "remontées ({measures:and}) — vérifier l'emplacement et l'antenne "
                          "de l'appareil, ou demander une passerelle plus proche à "
                          "l'opérateur du réseau",
                          "{device}: weak radio link over the last {uplinks:whole} uplinks "
                          "({measures:and}) — check the device's place and antenna, or ask "
                          "the network's operator for a nearer gateway"),
    "lorawan.median_rssi": ("RSSI médian {median:g} dBm, seuil {threshold:g} dBm",
                            "median RSSI {median:g} dBm, threshold {threshold:g} dBm"),
    "lorawan.median_snr": ("SNR médian {median:g} dB, seuil {threshold:g} dB",
                           "median SNR {median:g} dB, threshold {threshold:g} dB"),
    "alarm.battery_low": ("pile faible", "low battery"),
    "alarm.battery_again": ("pile de nouveau à {ok:whole} % ou plus",
                            "battery at {ok:whole}% or more again"),
    "alarm.link_weak": ("liaison radio faible", "weak radio link"),
    "alarm.link_again": ("liaison radio rétablie", "radio link restored"),
}
_RADIO: dict[str, Template] = {
    # commands over a class A radio (controllers.radio)
    "heating.ahead": ("{decision} — dès maintenant plutôt qu'à {wanted:clock} : {because}",
                      "{decision} — from now rather than at {wanted:clock}: {because}"),
    "radio.class_a": ("{device} ne reçoit un ordre qu'à sa prochaine remontée radio, toutes "
                      "les {interval:duration}",
                      "{device} takes a command only at its next radio uplink, every "
                      "{interval:duration}"),
    "radio.deferred": ("Consigne maintenue à {held:temperature}, {why} — {decision}",
                       "Setpoint kept at {held:temperature}, {why} — {decision}"),
    "radio.kept": ("baisse à {value:temperature} reportée : {remaining:whole} envois radio "
                   "restants aujourd'hui, gardés pour le préchauffage avant {next:clock}",
                   "lowering to {value:temperature} deferred: {remaining:whole} downlinks "
                   "left today, kept for the pre-heat before {next:clock}"),
    "radio.spent": ("baisse à {value:temperature} reportée : les envois radio du jour sont "
                    "faits",
                    "lowering to {value:temperature} deferred: the day's downlinks are spent"),
}
_LORAWAN_WAIT: dict[str, Template] = {
    # a command waiting for the uplink that reports it (protocols.lorawan_points)
    "lorawan.waiting": ("{point} {value:g}{unit} : envoi {sent:at}{attempt}, remis à "
                        "{device} à sa prochaine remontée et confirmé à la suivante, vers "
                        "{due:moment}",
                        "{point} {value:g}{unit}: sent {sent:at}{attempt}, delivered to "
                        "{device} at its next uplink and confirmed in the one after, about "
                        "{due:moment}"),
    "lorawan.delivered": ("{point} {value:g}{unit} : envoi {sent:at}{attempt}, remis à "
                          "{device} {delivered:at}, confirmation attendue à sa remontée "
                          "suivante, vers {due:moment}",
                          "{point} {value:g}{unit}: sent {sent:at}{attempt}, delivered to "
                          "{device} {delivered:at}, confirmation expected in its next "
                          "uplink, about {due:moment}"),
    "lorawan.waiting_unheard": ("{point} {value:g}{unit} : envoi {sent:at}{attempt}, en "
                                "attente des remontées de {device} (aucune reçue depuis le "
                                "démarrage)",
                                "{point} {value:g}{unit}: sent {sent:at}{attempt}, waiting "
                                "for {device}'s uplinks (none received since the start)"),
    "lorawan.attempt": (" ({tries:whole}e envoi sur {most:whole})",
                        " (try {tries:whole} of {most:whole})"),
    "lorawan.not_applied": ("{device} : {tries:whole} envois de {point} {value:g}{unit} "
                            "sans effet, l'appareil rapporte {reported:g}{unit} — son "
                            "réglage a sans doute été changé sur place (la molette d'une "
                            "vanne tournée à la main) ; le moteur ne renvoie plus cette "
                            "valeur",
                            "{device}: {tries:whole} sends of {point} {value:g}{unit} had "
                            "no effect, the device reports {reported:g}{unit} — its setting "
                            "was probably changed on the spot (a valve's knob turned by "
                            "hand); the engine sends this value no more"),
}
_CALENDAR: dict[str, Template] = {
    "holidays.christmas": ("Vacances de Noël", "Christmas holidays"),
    "holidays.winter": ("Vacances d'hiver", "Winter holidays"),
    "holidays.spring": ("Vacances de printemps", "Spring holidays"),
    "holidays.ascension": ("Pont de l'Ascension", "Ascension bridge"),
    "holidays.summer": ("Vacances d'été", "Summer holidays"),
    "holidays.all_saints": ("Vacances de la Toussaint", "All Saints' holidays"),
}

_OCCUPATION: dict[str, Template] = {
    "occupation.occupied": ("occupé selon le programme", "occupied by the programme"),
    "occupation.occupied_because": ("occupé ({because})", "occupied ({because})"),
    "occupation.unoccupied": ("inoccupé", "unoccupied"),
    "occupation.unoccupied_because": ("inoccupé ({because})", "unoccupied ({because})"),
}

_LIGHTING: dict[str, Template] = {
    # a cabinet's night
    "lighting.at_sunset": ("allumé au coucher du soleil ({sunset:clock})",
                           "on at sunset ({sunset:clock})"),
    "lighting.after_sunset": ("allumé {minutes} min après le coucher du soleil "
                              "({sunset:clock})",
                              "on {minutes} min after sunset ({sunset:clock})"),
    "lighting.before_sunrise": ("éteint {minutes} min avant le lever du soleil "
                                "({sunrise:clock})",
                                "off {minutes} min before sunrise ({sunrise:clock})"),
    "lighting.daylight": ("jour : éteint", "daylight: off"),
    "lighting.cut_until_sunrise": ("coupure de nuit de {start:clock} jusqu'au lever du soleil"
                                   " : éteint", "night cut from {start:clock} until sunrise: off"),
    "lighting.cut": ("coupure de nuit de {start:clock} jusqu'à {end:clock} : éteint",
                     "night cut from {start:clock} until {end:clock}: off"),
    "lighting.dimmed": ("{lit}, abaissé à {level:whole} % de {start:clock} à {end:clock}",
                        "{lit}, dimmed to {level:whole} % from {start:clock} to {end:clock}"),
    "lighting.on_again": ("rallumé à {start:clock} jusqu'au lever du soleil ({sunrise:clock})",
                          "on again at {start:clock} until sunrise ({sunrise:clock})"),
    "lighting.entry_on": ("{label} : allumé jusqu'à {until:moment}",
                          "{label}: on until {until:moment}"),
    "lighting.entry_off": ("{label} : éteint jusqu'à {until:moment}",
                           "{label}: off until {until:moment}"),
    # a building's lighting circuit
    "circuit.detector_failed": ("détecteur de présence en défaut", "presence detector failed"),
    "circuit.no_detector": ("pas de détecteur de présence", "no presence detector"),
    "circuit.occupied_unseen": ("{occupied} jusqu'à {until:moment} ({missing}) : allumé",
                                "{occupied} until {until:moment} ({missing}): on"),
    "circuit.unoccupied_unseen": ("{unoccupied} ({missing}) : éteint",
                                  "{unoccupied} ({missing}): off"),
    "circuit.presence": ("présence détectée : allumé", "presence detected: on"),
    "circuit.vacating": ("personne depuis {since:moment} : éteint {off:at}",
                         "nobody since {since:moment}: off {off:at}"),
    "circuit.occupied_empty": ("{occupied} mais personne depuis plus de {minutes} min : éteint",
                               "{occupied} but nobody for more than {minutes} min: off"),
    "circuit.unoccupied_empty": ("{unoccupied}, personne : éteint", "{unoccupied}, nobody: off"),
    # scheduled equipment
    "equipment.programme": ("programme", "programme"),
    "equipment.on": ("{why} : en marche jusqu'à {until:moment}", "{why}: on until {until:moment}"),
    "equipment.off_until": ("{why} : arrêt jusqu'à {until:moment}",
                            "{why}: off until {until:moment}"),
    "equipment.off": ("{why} : arrêt", "{why}: off"),
}

_NUISANCE_NAMES = {
    "heritage": ("Mise en lumière du patrimoine", "Heritage lighting", "e"),
    "park": ("Éclairage du parc ou jardin", "Park lighting", ""),
    "facade": ("Éclairage de façade", "Façade lighting", ""),
    "activity": ("Éclairage lié à l'activité", "Activity lighting", ""),
    "car_park": ("Éclairage du parc de stationnement", "Car park lighting", ""),
}
"""The categories of the arrêté of 27 December 2018, and the French participle's ending
that agrees with each."""

_NUISANCE: dict[str, Template] = {
    **{f"nuisance.name.{category}": (fr, en)
       for category, (fr, en, _) in _NUISANCE_NAMES.items()},
    **{f"nuisance.lit.{category}": (f"{fr} allumé{agree}", f"{en} on")
       for category, (fr, en, agree) in _NUISANCE_NAMES.items()},
    **{f"nuisance.relit.{category}": (f"{fr} rallumé{agree}", f"{en} on again")
       for category, (fr, en, agree) in _NUISANCE_NAMES.items()},
    "nuisance.on_before_sunset": ("{lit} à {start:clock} : l'arrêté du 27 décembre 2018 "
                                  "(art. 2) demande l'allumage au plus tôt au coucher du "
                                  "soleil ({sunset:clock})",
                                  "{lit} at {start:clock}: the arrêté of 27 December 2018 "
                                  "(art. 2) requires it on at sunset ({sunset:clock}) at the "
                                  "earliest"),
    "nuisance.hours_needed": ("{name} : les horaires de l'activité (clé activity) sont "
                              "nécessaires pour vérifier l'arrêté du 27 décembre 2018 (art. 2), "
                              "qui demande l'extinction {hours} h après la fin de l'activité",
                              "{name}: the hours of the activity (key activity) are needed to "
                              "check the arrêté of 27 December 2018 (art. 2), which requires it "
                              "off {hours} h after the activity ends"),
    "nuisance.lit_until": ("{lit} jusqu'à {end:clock} : l'arrêté du 27 décembre 2018 (art. 2) "
                           "{says}",
                           "{lit} until {end:clock}: the arrêté of 27 December 2018 (art. 2) "
                           "{says}"),
    "nuisance.lit_at": ("{lit} à {start:clock} : l'arrêté du 27 décembre 2018 (art. 2) {says}",
                        "{lit} at {start:clock}: the arrêté of 27 December 2018 (art. 2) "
                        "{says}"),
    "nuisance.off_by_1h": ("demande l'extinction à 1 h au plus tard",
                           "requires it off by 1:00 at the latest"),
    "nuisance.on_until_1h": ("ne permet l'allumage qu'entre le coucher du soleil et 1 h",
                             "allows it on only from sunset to 1:00"),
    "nuisance.off_after_closing": ("demande l'extinction 1 h au plus tard après la fermeture "
                                   "({closing:clock}), soit à {off:clock}",
                                   "requires it off 1 h after closing ({closing:clock}) at the "
                                   "latest, by {off:clock}"),
    "nuisance.on_until_closing": ("ne permet l'allumage qu'entre le coucher du soleil et "
                                  "{off:clock} (1 h après la fermeture)",
                                  "allows it on only from sunset to {off:clock} (1 h after "
                                  "closing)"),
    "nuisance.off_after_activity": ("demande l'extinction {hours} h au plus tard après la fin "
                                    "de l'activité ({ends:clock}), soit à {off:clock}",
                                    "requires it off {hours} h after the activity ends "
                                    "({ends:clock}) at the latest, by {off:clock}"),
    "nuisance.relight_from": ("ne permet de le rallumer qu'à {on:clock} (7 h au plus tôt, ou "
                              "1 h avant le début de l'activité à {starts:clock} si c'est plus "
                              "tôt)",
                              "allows it on again only from {on:clock} (7:00 at the earliest, "
                              "or 1 h before the activity starts at {starts:clock} if that is "
                              "earlier)"),
}

_HEATING: dict[str, Template] = {
    "duration": ("{minutes:duration}", "{minutes:duration}"),
    # following the programme, with a fixed early start
    "heating.occupied": ("Occupé selon le programme jusqu'à {until:moment} : confort "
                         "{setpoint:temperature}",
                         "Occupied by the programme until {until:moment}: comfort "
                         "{setpoint:temperature}"),
    "heating.occupied_open": ("Occupé selon le programme : confort {setpoint:temperature}",
                              "Occupied by the programme: comfort {setpoint:temperature}"),
    "heating.occupied_because": ("Occupé ({because}) jusqu'à {until:moment} : confort "
                                 "{setpoint:temperature}",
                                 "Occupied ({because}) until {until:moment}: comfort "
                                 "{setpoint:temperature}"),
    "heating.fixed_preheat": ("Préchauffage fixe de {minutes:duration} : occupation prévue "
                              "{start:at}",
                              "Fixed {minutes:duration} preheat: occupancy scheduled "
                              "{start:at}"),
    "heating.nothing_scheduled": ("aucune occupation prévue", "no occupancy scheduled"),
    "heating.until": ("jusqu'à {start:moment}", "until {start:moment}"),
    "heating.long_absence": ("Inoccupé plus de 48 h ({when}) : hors-gel {setpoint:temperature}",
                             "Unoccupied for more than 48 h ({when}): frost protection "
                             "{setpoint:temperature}"),
    "heating.long_absence_because": ("Inoccupé plus de 48 h ({because}, {when}) : hors-gel "
                                     "{setpoint:temperature}",
                                     "Unoccupied for more than 48 h ({because}, {when}): frost "
                                     "protection {setpoint:temperature}"),
    "heating.unoccupied": ("Inoccupé {when} : réduit {setpoint:temperature}",
                           "Unoccupied {when}: reduced {setpoint:temperature}"),
    "heating.unoccupied_because": ("Inoccupé ({because}, {when}) : réduit "
                                   "{setpoint:temperature}",
                                   "Unoccupied ({because}, {when}): reduced "
                                   "{setpoint:temperature}"),
    # learned: optimal start and stop
    "heating.presence": ("Présence détectée jusqu'à {until:moment} : confort "
                         "{setpoint:temperature}",
                         "Presence detected until {until:moment}: comfort "
                         "{setpoint:temperature}"),
    "heating.presence_open": ("Présence détectée : confort {setpoint:temperature}",
                              "Presence detected: comfort {setpoint:temperature}"),
    "heating.seldom_used": ("Période programmée rarement utilisée ({forecast}) : {setback} tant "
                            "que personne n'est détecté",
                            "Programmed period seldom used ({forecast}): {setback} until "
                            "someone is detected"),
    "heating.arrival_expected": ("Arrivée attendue ({forecast}) : confort "
                                 "{setpoint:temperature}",
                                 "Arrival expected ({forecast}): comfort "
                                 "{setpoint:temperature}"),
    "heating.learned_setback": ("Inoccupé ({forecast}) : {setback}{then}",
                                "Unoccupied ({forecast}): {setback}{then}"),
    "heating.preheat_about": (", préchauffage prévu {start:at}",
                              ", preheat due {start:at}"),
    "heating.preheat": ("Préchauffage démarré à {start:clock} pour l'arrivée prévue "
                        "{arrival:at}",
                        "Preheat started at {start:clock} for the arrival expected "
                        "{arrival:at}"),
    "heating.preheat_late": ("Préchauffage démarré à {start:clock}, dès que le chauffage l'a "
                             "permis ({late:duration} plus tard que nécessaire), pour l'arrivée "
                             "prévue {arrival:at}",
                             "Preheat started at {start:clock}, as soon as heat was available "
                             "({late:duration} later than needed), for the arrival expected "
                             "{arrival:at}"),
    "heating.preheat_detail": ("arrivée apprise sur {days} jours semblables ; montée estimée à "
                               "{estimate} par {outdoor:temperature} extérieurs ({source}), "
                               "à {power:percent} de la puissance ; marge {margin:duration}",
                               "arrival learned from {days} similar days; warm-up estimated at "
                               "{estimate} with {outdoor:temperature} outside ({source}), at "
                               "{power:percent} of full power; margin {margin:duration}"),
    "heating.preheat_event": ("Préchauffage démarré à {start:clock} pour {event} "
                              "({arrival:moment})",
                              "Preheat started at {start:clock} for {event} "
                              "({arrival:moment})"),
    "heating.preheat_event_late": ("Préchauffage démarré à {start:clock}, dès que le chauffage "
                                   "l'a permis ({late:duration} plus tard que nécessaire), pour "
                                   "{event} ({arrival:moment})",
                                   "Preheat started at {start:clock}, as soon as heat was "
                                   "available ({late:duration} later than needed), for {event} "
                                   "({arrival:moment})"),
    "heating.preheat_detail_agenda": ("arrivée connue par l'agenda ; montée estimée à "
                                      "{estimate} par {outdoor:temperature} extérieurs "
                                      "({source}), à {power:percent} de la puissance ; marge "
                                      "{margin:duration}",
                                      "arrival known from the agenda; warm-up estimated at "
                                      "{estimate} with {outdoor:temperature} outside ({source}), "
                                      "at {power:percent} of full power; margin "
                                      "{margin:duration}"),
    "outdoor.forecast": ("prévision", "forecast"),
    "outdoor.persistence": ("température actuelle, sans prévision",
                            "current temperature, no forecast"),
    "heating.waiting_plant": (", préchauffage {begin:at}, quand le chauffage sera "
                              "disponible ({late:duration} plus tard que nécessaire pour "
                              "{arrival:moment})",
                              ", preheat {begin:at}, when heat is available "
                              "({late:duration} later than needed for {arrival:moment})"),
    "heating.no_heat": (", préchauffage impossible : chauffage indisponible (arrivée "
                        "{arrival:at})",
                        ", no preheat possible: heat not available (arrival "
                        "{arrival:at})"),
    "heating.then": ("{first}{then}", "{first}{then}"),
    "heating.fixed_preheat_refused": ("Préchauffage fixe de {minutes:duration} (modèle "
                                      "thermique refusé) : occupation prévue {start:at}",
                                      "Fixed {minutes:duration} preheat (thermal model "
                                      "refused): occupancy scheduled {start:at}"),
    "heating.fixed_preheat_late": ("Préchauffage fixe de {minutes:duration}, commencé "
                                   "{late:duration} plus tard, quand le chauffage l'a permis : "
                                   "occupation prévue {start:at}",
                                   "Fixed {minutes:duration} preheat, begun {late:duration} "
                                   "later, when heat was available: occupancy scheduled "
                                   "{start:at}"),
    "heating.out_of_reach": ("hors d'atteinte", "out of reach"),
    "heating.preheat_ahead": ("Préchauffage avancé jusqu'à {end:clock} : le chauffage ne "
                              "reprend que {resume:at}, trop tard pour l'arrivée prévue "
                              "{arrival:at}",
                              "Preheat brought forward until {end:clock}: heat resumes only "
                              "{resume:at}, too late for the arrival expected "
                              "{arrival:at}"),
    "heating.colder_than_seen": ("{estimate}, mais la zone est plus froide que toutes les "
                                 "montées apprises (depuis {coldest:temperature} au plus "
                                 "bas) : départ au plus tôt",
                                 "{estimate}, but the zone is colder than every warm-up "
                                 "learnt (from {coldest:temperature} at the lowest): "
                                 "started as early as allowed"),
    "heating.early_stop": ("Arrêt anticipé : consigne {floor:temperature}, que la zone tient "
                           "sans chauffer jusqu'à la fin prévue {end:at}",
                           "Early stop: setpoint {floor:temperature}, which the zone holds "
                           "without heating until the expected end {end:at}"),
    "setback.reduced": ("réduit {setpoint:temperature}", "reduced {setpoint:temperature}"),
    "setback.reduced_surprises": ("réduit {setpoint:temperature}, pas hors-gel : venues "
                                  "imprévues certains jours (jusqu'à {surprise:percent} des "
                                  "jours semblables)",
                                  "reduced {setpoint:temperature}, not frost protection: "
                                  "unexpected visits on some days (up to {surprise:percent} of "
                                  "similar days)"),
    "setback.deep": ("hors-gel {setpoint:temperature}, la relance rattrape l'arrivée",
                     "frost protection {setpoint:temperature}, the warm-up makes the arrival"),
    "setback.frost_protection": ("hors-gel {setpoint:temperature}",
                                 "frost protection {setpoint:temperature}"),
    # arrivals forecast from what the zone's detector saw
    "forecast.history_short": ("historique trop court pour {day:day} {day:ddmm} : les jours "
                               "observés pèsent {observed:number} jour, le programme "
                               "{prior:number}",
                               "history too short for {day:day} {day:ddmm}: the observed days "
                               "weigh {observed:number} day, the programme {prior:number}"),
    "forecast.uncertain": ("apprentissage incertain (confiance {confidence:percent})",
                           "learning uncertain (confidence {confidence:percent})"),
    "forecast.agenda": ("arrivée {start:day} {start:ddmm} à {start:clock} selon l'agenda",
                        "arrival {start:day} {start:ddmm} at {start:clock} by the agenda"),
    "forecast.agenda_event": ("{event} {start:day} {start:ddmm} à {start:clock}",
                              "{event} {start:day} {start:ddmm} at {start:clock}"),
    "forecast.none": ("aucune arrivée attendue dans les {days} jours",
                      "no arrival expected within {days} days"),
    "forecast.none_rarely_used": ("aucune arrivée attendue dans les {days} jours ; le programme "
                                  "prévoit {programmed:ddmm} {programmed:clock}, rarement occupé",
                                  "no arrival expected within {days} days; the programme has "
                                  "{programmed:ddmm} {programmed:clock}, rarely occupied"),
    "forecast.learned": ("arrivée prévue à {start:clock}, départ vers {end:clock} (appris sur "
                         "{similar} jours semblables en {weeks} semaines, {covered} arrivées sur "
                         "{kept} à {start:clock} ou après, programme pour {prior:percent}, "
                         "confiance {confidence:percent})",
                         "arrival expected at {start:clock}, leaving about {end:clock} (learned "
                         "from {similar} similar days over {weeks} weeks, {covered} arrivals out "
                         "of {kept} at {start:clock} or later, programme {prior:percent}, "
                         "confidence {confidence:percent})"),
    "forecast.learned_on": ("arrivée prévue {day:day} {day:ddmm} à {start:clock}, départ vers "
                            "{end:clock} (appris sur {similar} jours semblables en {weeks} "
                            "semaines, {covered} arrivées sur {kept} à {start:clock} ou après, "
                            "programme pour {prior:percent}, confiance {confidence:percent})",
                            "arrival expected {day:day} {day:ddmm} at {start:clock}, leaving "
                            "about {end:clock} (learned from {similar} similar days over "
                            "{weeks} weeks, {covered} arrivals out of {kept} at {start:clock} or "
                            "later, programme {prior:percent}, confidence {confidence:percent})"),
    "forecast.clairvoyant": ("présence réelle des occupants (référence du banc d'essai, "
                             "pas une prévision)",
                             "the occupants' real presence (the bench's reference, not a "
                             "forecast)"),
    "forecast.programme": ("programme suivi, {why} : période programmée à partir de "
                           "{start:ddmm} {start:clock}",
                           "following the programme, {why}: programmed period from "
                           "{start:ddmm} {start:clock}"),
    "forecast.programme_none": ("programme suivi, {why} : aucune période programmée",
                                "following the programme, {why}: no programmed period"),
    # the building's plant (controllers/plant.py)
    "plant.heat": ("Chaufferie en marche : {zone} en {level}, sous sa consigne de "
                   "{setpoint:temperature} ou tout près",
                   "Plant on: {zone} at {level}, below or near its setpoint of "
                   "{setpoint:temperature}"),
    "plant.frost": ("Chaufferie en marche, hors-gel : {zone} près de son seuil de "
                    "{floor:temperature}",
                    "Plant on, frost protection: {zone} near its floor of {floor:temperature}"),
    "plant.unknown": ("Chaufferie en marche, hors-gel : température {zone:de} inconnue",
                      "Plant on, frost protection: temperature of {zone} unknown"),
    "plant.frost_unavailable": ("{why} ; ALERTE : le chauffage n'est pas disponible "
                                "(horaire propre de la chaufferie ou du circuit)",
                                "{why}; ALERT: heat is not available (the plant's or the "
                                "circuit's own schedule)"),
    "plant.unavailable": ("Chaufferie à l'arrêt : le chauffage n'est pas disponible à cette "
                          "heure (horaire propre de la chaufferie ou du circuit)",
                          "Plant off: heat is not available now (the plant's or the "
                          "circuit's own schedule)"),
    "plant.preheat_soon": ("Chaufferie maintenue : préchauffage {zone:de} {start:at}",
                           "Plant kept on: preheat of {zone} {start:at}"),
    "plant.kept_on": ("Chaufferie maintenue en marche {minutes:duration} encore (durée "
                      "minimale de marche) ; ensuite : {then}",
                      "Plant kept on {minutes:duration} more (minimum on time); then: {then}"),
    "plant.kept_off": ("Chaufferie maintenue à l'arrêt {minutes:duration} encore (durée "
                       "minimale d'arrêt) ; ensuite : {then}",
                       "Plant kept off {minutes:duration} more (minimum off time); then: "
                       "{then}"),
    "plant.idle": ("Chaufferie à l'arrêt : aucune zone ne demande de chaleur (aucune sous sa "
                   "consigne ou tout près, aucune près de son seuil hors-gel)",
                   "Plant off: no zone needs heat (none below or near its setpoint, none near "
                   "its frost floor)"),
}

_JOBS: dict[str, Template] = {
    "forecast.in_use": ("Prévision météo en service", "Weather forecast in use"),
    "forecast.fetched": ("prévision de {url}, jusqu'au {until:date} {until:clock} (UTC)",
                         "forecast from {url}, up to {until:date} {until:clock} (UTC)"),
    "forecast.persistence": (
        "Prévision météo indisponible : la température extérieure actuelle est tenue pour "
        "celle des heures à venir (persistance)",
        "Weather forecast unavailable: the outdoor temperature now stands for the hours to "
        "come (persistence)"),
    "forecast.unreachable": ("{url} injoignable : {error}", "{url} unreachable: {error}"),
    "forecast.timeout": ("{url} n'a pas répondu en {seconds:number} s",
                         "{url} did not answer within {seconds:number} s"),
    "forecast.http": ("{url} a répondu HTTP {status:whole} {detail}",
                      "{url} answered HTTP {status:whole} {detail}"),
    "forecast.unreadable": ("réponse de {url} illisible comme prévision Open-Meteo : {detail}",
                            "answer of {url} unreadable as an Open-Meteo forecast: {detail}"),
    "forecast.implausible": (
        "réponse de {url} refusée : {value:number} °C le {time:date} à {time:clock} (UTC) "
        "n'est pas une température extérieure plausible",
        "answer of {url} refused: {value:number} °C on {time:date} at {time:clock} (UTC) is "
        "not a plausible outdoor temperature"),
    "forecast.short": (
        "réponse de {url} refusée : elle s'arrête le {until:date} à {until:clock} (UTC), "
        "moins de {hours:whole} h devant",
        "answer of {url} refused: it ends on {until:date} at {until:clock} (UTC), less "
        "than {hours:whole} h ahead"),
    "forecast.stale": ("la dernière prévision reçue de {url} a plus de {hours:number} h",
                       "the last forecast received from {url} is more than {hours:number} h "
                       "old"),
    "job.failed": ("La tâche « {job} » a échoué : {error}", "Job '{job}' failed: {error}"),
    "job.retry": ("erreur interne ; la tâche reprendra à son prochain passage",
                  "internal error; the job runs again at its next turn"),
    "efficiency.alarm": ("Alarme : dérive de consommation — {label}",
                         "Alarm: consumption drift — {label}"),
    "efficiency.over": ("Fin d'alarme : {label} est revenu dans la bande de sa référence",
                        "Alarm over: {label} is back within its baseline's band"),
    "efficiency.back_within": ("consommation dans la bande de la référence depuis le "
                               "{since:date}",
                               "consumption within the baseline's band since {since:date}"),
}

_SAVINGS: dict[str, Template] = {
    # one headline per period (gtb/savings/headline.py)
    "savings.sentences": ("{parts:sentences}", "{parts:sentences}"),
    "savings.subject.commune": ("La commune", "The commune"),
    "savings.explanation": (
        "{label} : {actual:whole} kWh mesurés du {start:date} au {end:date}. Sans le "
        "pilotage, avec la même météo ({hdd:whole} DJU) et le même calendrier, la référence "
        "établie du {base_start:date} au {base_end:date} en prévoyait {expected:whole} : "
        "{verdict}",
        "{label}: {actual:whole} kWh metered from {start:date} to {end:date}. Without the "
        "engine, under the same weather ({hdd:whole} degree-days) and calendar, the "
        "baseline fitted from {base_start:date} to {base_end:date} expected "
        "{expected:whole}: {verdict}"),
    "savings.explanation.unclear": (
        "l'écart de {gap:whole} kWh (± {u:whole} kWh à {confidence:percent}) reste dans "
        "l'incertitude du modèle : ni économie ni surconsommation n'est démontrée.",
        "the difference of {gap:whole} kWh (± {u:whole} kWh at {confidence:percent}) is "
        "within the model's uncertainty: neither a saving nor an excess is shown."),
    "savings.explanation.saved": (
        "{kwh:whole} kWh évités ({pct:number} %), ± {u:whole} kWh à {confidence:percent}, "
        "soit {eur:whole} € et {co2:whole} kg de CO2e.",
        "{kwh:whole} kWh avoided ({pct:number} %), ± {u:whole} kWh at {confidence:percent}, "
        "that is {eur:whole} € and {co2:whole} kg CO2e."),
    "savings.explanation.more": (
        "le bâtiment a consommé {kwh:whole} kWh de plus que prévu à météo égale (± {u:whole} "
        "kWh à {confidence:percent}).",
        "the building used {kwh:whole} kWh more than expected at equal weather (± {u:whole} "
        "kWh at {confidence:percent})."),
    "savings.explanation.losses_saved": (
        "Les dérives de consommation signalées ({spans:comma}) comptent pour {lost:whole} "
        "kWh : sans elles, {without:whole} kWh auraient été évités.",
        "The losses of efficiency reported ({spans:comma}) account for {lost:whole} kWh: "
        "without them, {without:whole} kWh would have been avoided."),
    "savings.explanation.losses_more": (
        "Les dérives de consommation signalées ({spans:comma}) comptent pour {lost:whole} "
        "kWh : sans elles, l'écart aurait été de {without:whole} kWh de plus que la "
        "référence.",
        "The losses of efficiency reported ({spans:comma}) account for {lost:whole} kWh: "
        "without them, the difference would have been {without:whole} kWh over the "
        "baseline."),
    "savings.loss": (
        "Du {first:date} au {last:date} ({days:whole} jours), {what} a consommé {kwh:whole} "
        "kWh de plus que ne le prévoit sa référence pour la météo et le calendrier de ces "
        "jours ({excess}), bien au-delà de son incertitude. À vérifier : une vanne ou un "
        "circulateur bloqué, une erreur dans la programmation (un réduit de nuit ou de fin de "
        "semaine qui ne se fait plus, une dérogation oubliée), une consigne relevée à la "
        "main, une porte ou des fenêtres restées ouvertes.",
        "From {first:date} to {last:date} ({days:whole} days), {what} used {kwh:whole} kWh "
        "more than its baseline expects for those days' weather and calendar ({excess}), "
        "well beyond its uncertainty. Check for a stuck valve or pump, a programme error (a "
        "night or weekend setback no longer applied, a forgotten override), a setpoint "
        "raised by hand, a door or windows left open."),
    "savings.loss.meter": ("le compteur", "the meter"),
    "savings.loss.percent": ("+{pct:whole} %", "+{pct:whole} %"),
    "savings.loss.beyond": ("au-delà", "beyond"),
    "savings.span": ("du {first:date} au {last:date}", "{first:date} to {last:date}"),
    "savings.explanation.indicative": (
        "L'ASHRAE Guideline 14 n'accepte pas encore ce chiffre (incertitude à 68 % d'au moins "
        "la moitié de l'économie) : chiffre indicatif.",
        "ASHRAE Guideline 14 does not accept this figure yet (uncertainty at 68 % of half "
        "the saving or more): an indication only."),
    "savings.explanation.missing": ("Jours sans données, non comptés : {count:whole}.",
                                    "Days without data, not counted: {count:whole}."),
    "savings.report_month": (
        "En {month}, le bâtiment « {subject} » a consommé {actual:whole} kWh de chauffage ; "
        "sans le pilotage, avec la même météo et le même calendrier, la référence en "
        "prévoyait {expected:whole}.",
        "In {month}, the building “{subject}” used {actual:whole} kWh of heating; without "
        "the engine, under the same weather and calendar, the baseline expected "
        "{expected:whole}."),
    "savings.subject.building": ("Le bâtiment « {name} »", "The building “{name}”"),
    "savings.not_demonstrated": (
        "Pas d'économie démontrée : l'écart de {gap:whole} kWh avec la référence reste dans "
        "son incertitude (± {u:whole} kWh à {confidence:percent} de confiance).",
        "No saving shown: the difference of {gap:whole} kWh from the baseline is within its "
        "uncertainty (± {u:whole} kWh at {confidence:percent} confidence)."),
    "savings.saved": (
        "{subject} a économisé {kwh:whole} kWh à météo égale (± {u:whole} kWh à "
        "{confidence:percent} de confiance), soit {eur} et {co2}.",
        "{subject} saved {kwh:whole} kWh at equal weather (± {u:whole} kWh at "
        "{confidence:percent} confidence), that is {eur} and {co2}."),
    "savings.more": (
        "{subject} a consommé {kwh:whole} kWh de plus que prévu à météo égale (± {u:whole} "
        "kWh à {confidence:percent} de confiance), soit {eur} et {co2}.",
        "{subject} used {kwh:whole} kWh more than expected at equal weather (± {u:whole} kWh "
        "at {confidence:percent} confidence), that is {eur} and {co2}."),
    "savings.eur.saved": ("{eur:whole} € économisés", "{eur:whole} € saved"),
    "savings.eur.more": ("{eur:whole} € dépensés en plus", "{eur:whole} € spent over"),
    "savings.co2.saved": ("{co2:whole} kg de CO2e évités", "{co2:whole} kg CO2e avoided"),
    "savings.co2.more": ("{co2:whole} kg de CO2e émis en plus",
                         "{co2:whole} kg CO2e emitted over"),
    "savings.co2.saved_t": ("{co2:number} t de CO2e évitées", "{co2:number} t CO2e avoided"),
    "savings.co2.more_t": ("{co2:number} t de CO2e émises en plus",
                           "{co2:number} t CO2e emitted over"),
    "savings.differ": (
        "Les euros et le CO2e ne suivent pas les kWh, car chaque énergie pèse différemment : "
        "{carriers:comma} ; or {rates:comma}.",
        "Euros and CO2e do not follow the kWh, as each energy weighs differently: "
        "{carriers:comma}; and {rates:comma}."),
    "savings.carrier.heating.saved": ("le chauffage ({energy}) a économisé {kwh:whole} kWh",
                                      "heating ({energy}) saved {kwh:whole} kWh"),
    "savings.carrier.heating.more": ("le chauffage ({energy}) a consommé {kwh:whole} kWh de "
                                     "plus", "heating ({energy}) used {kwh:whole} kWh more"),
    "savings.carrier.lighting.saved": ("l'éclairage public ({energy}) a économisé {kwh:whole} "
                                       "kWh", "public lighting ({energy}) saved {kwh:whole} "
                                       "kWh"),
    "savings.carrier.lighting.more": ("l'éclairage public ({energy}) a consommé {kwh:whole} "
                                      "kWh de plus", "public lighting ({energy}) used "
                                      "{kwh:whole} kWh more"),
    "savings.rate": ("un kWh {energy} coûte {cents:number} c€ et émet {grams:whole} g de "
                     "CO2e", "a kWh of {energy} costs {cents:number} c€ and emits "
                     "{grams:whole} g CO2e"),
    "savings.energy_of.electricity": ("d'électricité", "electricity"),
    "savings.energy_of.gas": ("de gaz", "gas"),
    "savings.energy_of.heat_network": ("de réseau de chaleur", "heat network"),
    "savings.energy_of.fuel_oil": ("de fioul", "fuel oil"),
    "savings.energy_of.wood": ("de bois", "wood"),
    "savings.energy.electricity": ("électricité", "electricity"),
    "savings.energy.gas": ("gaz", "gas"),
    "savings.energy.heat_network": ("réseau de chaleur", "heat network"),
    "savings.energy.fuel_oil": ("fioul", "fuel oil"),
    "savings.energy.wood": ("bois", "wood"),
    "savings.causes": ("Ce que le moteur sait de la période : {causes:and}.",
                       "What the engine knows of the period: {causes:and}."),
    "savings.cause.loss": ("une dérive de consommation détectée du {first:date} au "
                           "{last:date} ({kwh:whole} kWh de plus)",
                           "a loss of efficiency detected from {first:date} to {last:date} "
                           "({kwh:whole} kWh over)"),
    "savings.cause.alarms": ("alarmes de défaut levées : {count:whole}",
                             "fault alarms raised: {count:whole}"),
    "savings.cause.overrides": ("dérogations de consigne (plus de confort) : {count:whole}",
                                "setpoint overrides (more comfort): {count:whole}"),
    "savings.cause.programmes": ("programmes modifiés depuis le panneau : {count:whole}",
                                 "programmes changed from the panel: {count:whole}"),
    "savings.cause.events": ("événements à l'agenda (plus d'occupation) : {count:whole}",
                             "agenda events (more occupancy): {count:whole}"),
    # ASHRAE Guideline 14's criteria (gtb/savings/criteria.py), and how sums are made
    "savings.criterion.fsu": (
        "Guideline 14, bâtiment entier (option C) : incertitude à 68 % sous 50 % de "
        "l'économie", "Guideline 14, whole building (option C): uncertainty at 68 % under "
        "50 % of the saving"),
    "savings.criterion.cv_rmse": (
        "Guideline 14, bâtiment entier, voie prescriptive : CV(RMSE) de la référence sous "
        "20 %", "Guideline 14, whole building, prescriptive path: baseline CV(RMSE) under "
        "20 %"),
    "savings.criterion.calibration_cv_rmse": (
        "Guideline 14, calage d'une simulation (pour information) : CV(RMSE) mensuel "
        "≤ 15 %", "Guideline 14, calibration of a simulation (for information): monthly "
        "CV(RMSE) ≤ 15 %"),
    "savings.criterion.calibration_nmbe": (
        "Guideline 14, calage d'une simulation (pour information) : NMBE mensuel ≤ ± 5 %",
        "Guideline 14, calibration of a simulation (for information): monthly NMBE "
        "≤ ± 5 %"),
    "savings.sum": (
        "Sommes : les incertitudes des compteurs de chauffage s'additionnent (ils partagent "
        "la météo et le calendrier, leurs erreurs vont souvent dans le même sens : c'est la "
        "borne prudente), de même pour les armoires d'éclairage (la même estimation des "
        "heures de nuit) ; le chauffage et l'éclairage, sans cause d'erreur commune, se "
        "combinent comme indépendants (racine de la somme des carrés).",
        "Sums: the heating meters' uncertainties add up (they share the weather and the "
        "calendar, their errors often go the same way: the conservative bound), and so do "
        "the lighting cabinets' (the same estimate of the night's hours); heating and "
        "lighting, without a common cause of error, combine as independent (root sum of "
        "squares)."),
    "savings.lighting_uncertainty": (
        "Incertitude de l'éclairage : l'ancien fonctionnement estimé (heures du coucher au "
        "lever du soleil ± 5 %, puissance nominale ± 5 %) et la mesure (compteur ± 2 %, ou "
        "heures allumées × puissance ± 5 %).",
        "Lighting's uncertainty: the former operation estimated (hours from sunset to "
        "sunrise ± 5 %, nominal power ± 5 %) and the metering (meter ± 2 %, or lit hours "
        "× power ± 5 %)."),
    "savings.cause.unknown": (
        "Cause inconnue : le moteur n'a relevé sur la période ni dérive, ni alarme, ni "
        "dérogation de consigne, ni programme modifié, ni événement à l'agenda.",
        "Cause unknown: over the period the engine found no loss of efficiency, alarm, "
        "setpoint override, programme change or agenda event."),
}

_AGENDA: dict[str, Template] = {
    "agenda.added": ("Agenda : ajout de « {label} »", "Agenda: « {label} » added"),
    "agenda.changed": ("Agenda : modification de « {label} »", "Agenda: « {label} » changed"),
    "agenda.removed": ("Agenda : suppression de « {label} »", "Agenda: « {label} » removed"),
    "agenda.whole_site": ("tout le site", "the whole site"),
    "agenda.event": ("événement du {lo} au {hi} ({where})", "event from {lo} to {hi} ({where})"),
    "agenda.closure": ("fermeture du {lo} au {hi} ({where})",
                       "closure from {lo} to {hi} ({where})"),
    "agenda.day": ("jour particulier du {lo} au {hi} ({where})",
                   "special days from {lo} to {hi} ({where})"),
    "agenda.lights_on": ("éclairage public allumé du {lo} au {hi} ({where})",
                         "public lighting on from {lo} to {hi} ({where})"),
    "agenda.lights_off": ("éclairage public éteint du {lo} au {hi} ({where})",
                          "public lighting off from {lo} to {hi} ({where})"),
}

_PEOPLE: dict[str, Template] = {
    "panel.override_cancelled": ("annulée depuis le panneau", "cancelled from the panel"),
    "panel.order_cancelled": ("annulé depuis le panneau", "cancelled from the panel"),
    "panel.from_here": ("depuis le panneau", "from the panel"),
    "api.override_cancelled": ("annulée par l'API", "cancelled through the API"),
    "api.order_cancelled": ("annulé par l'API", "cancelled through the API"),
    "cli.command_line": ("ligne de commande", "command line"),
}

_EXPORT: dict[str, Template] = {
    # what an export holds: its quantities (InfluxDB measurements) and resolutions
    "export.quantity.temperature": ("température", "temperature"),
    "export.quantity.setpoint": ("consigne", "setpoint"),
    "export.quantity.mode_decided": ("mode de chauffage (décidé)", "heating mode (decided)"),
    "export.quantity.mode_reported": ("mode de chauffage (relu)", "heating mode (read back)"),
    "export.quantity.valve": ("vanne", "valve"),
    "export.quantity.heating_output": ("émission de chaleur", "heat emission"),
    "export.quantity.occupancy": ("présence", "occupancy"),
    "export.quantity.co2": ("CO2", "CO2"),
    "export.quantity.lighting_relay": ("éclairage (relais)", "lighting (relay)"),
    "export.quantity.lighting_dimming": ("éclairage (gradation)", "lighting (dimming)"),
    "export.quantity.relay": ("relais", "relay"),
    "export.quantity.energy": ("énergie", "energy"),
    "export.quantity.power": ("puissance", "power"),
    "export.quantity.measurement": ("autres mesures", "other measurements"),
    "export.all_quantities": ("toutes grandeurs", "all quantities"),
    "export.resolution.raw": ("brutes", "raw"),
    "export.resolution.hour": ("heure", "hour"),
    "export.resolution.day": ("jour", "day"),
    "export.resolution.month": ("mois", "month"),
    "export.resolution_choice.raw": ("brutes : chaque mesure (gardées 90 jours)",
                                     "raw: every sample (kept 90 days)"),
    "export.resolution_choice.hour": ("heure : moyenne, minimum, maximum",
                                      "hour: mean, minimum, maximum"),
    "export.resolution_choice.day": ("jour (jours du calendrier local)",
                                     "day (local calendar days)"),
    "export.resolution_choice.month": ("mois (mois du calendrier local)",
                                       "month (local calendar months)"),
    "export.downloaded": ("Export {format} ({resolution}) du {first:date} au {last:date} : "
                          "{scope}",
                          "Export {format} ({resolution}) from {first:date} to {last:date}: "
                          "{scope}"),
    "export.scope.site": ("tout le site", "the whole site"),
    "export.scope.building": ("bâtiment {place}", "building {place}"),
    "export.scope.zone": ("zone {place}", "zone {place}"),
    "export.scope.cabinet": ("armoire {place}", "cabinet {place}"),
    "export.scope.quantities": ("{scope}, {quantities:comma}", "{scope}, {quantities:comma}"),
}

_EXPORT_GUIDE: dict[str, Template] = {
    # the data guide (gtb/export_guide.py): the exports' columns (those that are tags of the
    # archive have its meanings, archive.tag.*)
    "guide.column.time_local": (
        "l'heure locale du site (début de l'heure, du jour ou du mois d'un agrégat) ; en "
        "CSV standard ISO 8601 avec son décalage, en CSV Excel jj/mm/aaaa hh:mm",
        "the site's local time (start of an aggregate's hour, day or month); ISO 8601 with "
        "its offset in the standard CSV, dd/mm/yyyy hh:mm in the Excel CSV"),
    "guide.column.utc_offset": (
        "CSV Excel seulement : le décalage de l'heure locale (UTC+01:00 en hiver, UTC+02:00 "
        "en été) ; il distingue les deux heures 02:00–03:00 du changement d'heure d'octobre",
        "Excel CSV only: the local time's offset (UTC+01:00 in winter, UTC+02:00 in summer); "
        "it tells apart the two 02:00–03:00 hours of the October clock change"),
    "guide.column.time_utc": ("le même instant en temps universel (UTC)",
                              "the same moment in universal time (UTC)"),
    "guide.column.name": ("le nom du point dans le fichier du site",
                          "the point's name in the site file"),
    "guide.column.quantity": ("la grandeur, c'est-à-dire la mesure InfluxDB (ci-dessous)",
                              "the quantity, that is the InfluxDB measurement (below)"),
    "guide.column.value": ("la mesure, ou la moyenne d'un agrégat ; vide pour une lecture en "
                           "échec",
                           "the sample, or an aggregate's mean; empty for a failed read"),
    "guide.column.min": ("agrégats : la plus petite mesure", "aggregates: the smallest sample"),
    "guide.column.max": ("agrégats : la plus grande mesure (pour un index de compteur, la "
                         "dernière)",
                         "aggregates: the largest sample (for a meter's index, the last)"),
    "guide.column.count": ("agrégats : le nombre de mesures bonnes", "aggregates: the number "
                           "of good samples"),
    "guide.column.hours": ("jours et mois : les heures qui ont des données (23 ou 25 les jours "
                           "de changement d'heure)",
                           "days and months: the hours that have data (23 or 25 on the days "
                           "of a clock change)"),
    "guide.column.quality": ("mesures brutes : ok, stale (dernière bonne valeur gardée) ou "
                             "failed (aucune valeur)",
                             "raw samples: ok, stale (last good value kept) or failed (no "
                             "value)"),
    "guide.column.error": ("mesures brutes : pourquoi la lecture a échoué",
                           "raw samples: why the read failed"),
    # the fields of the lines the shipper writes to InfluxDB (the measurements and the tags
    # are the archive's, below)
    "guide.field.value": ("la valeur, toujours un nombre à virgule", "the value, always a float"),
    "guide.field.quality": ("une mesure qui n'est pas bonne : stale ou failed",
                            "a sample that is not good: stale or failed"),
    "guide.field.error": ("pourquoi la lecture a échoué", "why the read failed"),
    "guide.field.message": ("event et command : le texte de la ligne, en français",
                            "event and command: the line's text, in French"),
    "guide.field.actor": ("qui : une personne, ou engine pour GTB lui-même",
                          "who: a person, or engine for GTB itself"),
    "guide.field.reason": ("pourquoi, en français", "why, in French"),
    "guide.field.message_en": ("le texte en anglais, quand la ligne l'a",
                               "the text in English, when the line has it"),
    "guide.field.reason_en": ("la raison en anglais, quand la ligne l'a",
                              "the reason in English, when the line has it"),
    "guide.field.id": ("le numéro de la ligne dans le journal des actions",
                       "the line's number in the audit log"),
}

_ARCHIVE: dict[str, Template] = {
    # what the InfluxDB archive holds (gtb.archive): measurements, tags, example queries
    "archive.measurement.temperature": ("températures des zones et extérieures (°C)",
                                        "zone and outdoor temperatures (°C)"),
    "archive.measurement.setpoint": ("consignes de chauffage relues sur les appareils (°C)",
                                     "heating setpoints read back from the devices (°C)"),
    "archive.measurement.mode_decided": (
        "niveau de chauffage décidé par le moteur pour chaque zone, à chaque cycle : "
        "1 confort, 2 réduit, 3 hors-gel, 4 arrêt",
        "heating level the engine decided for each zone, at every tick: 1 comfort, "
        "2 reduced, 3 frost protection, 4 off"),
    "archive.measurement.mode_reported": (
        "mode de chauffage relu sur l'appareil d'une zone qui en a un (mêmes valeurs 1 à 4)",
        "heating mode read from a zone's device, where it has one (the same values 1 to 4)"),
    "archive.measurement.valve": ("ouverture des vannes (%)", "valve opening (%)"),
    "archive.measurement.heating_output": ("puissance des émetteurs, vitesse des "
                                           "ventilo-convecteurs (%)",
                                           "emitter output, fan coil speed (%)"),
    "archive.measurement.occupancy": ("présence, 0 ou 1", "presence, 0 or 1"),
    "archive.measurement.co2": ("CO2 (ppm)", "CO2 (ppm)"),
    "archive.measurement.lighting_relay": (
        "relais d'éclairage, des bâtiments et des armoires d'éclairage public : 1 allumé, "
        "0 éteint",
        "lighting relays, of the buildings and of the public lighting cabinets: 1 on, 0 off"),
    "archive.measurement.lighting_dimming": ("gradation des armoires d'éclairage public (%)",
                                             "dimming level of the public lighting cabinets "
                                             "(%)"),
    "archive.measurement.relay": ("autorisation des chaudières et équipements programmés, "
                                  "0 ou 1",
                                  "plant enables and scheduled equipment, 0 or 1"),
    "archive.measurement.energy": (
        "index cumulé des compteurs (kWh) : la consommation est une différence d'index",
        "meters' cumulative index (kWh): consumption is a difference of the index"),
    "archive.measurement.power": ("puissance (kW)", "power (kW)"),
    "archive.measurement.measurement": ("autres mesures (le niveau d'une rivière…), dans "
                                        "l'unité que donne le fichier du site",
                                        "other measurements (a river's level…), in the unit "
                                        "the site file gives"),
    "archive.measurement.sample": ("un point que le fichier du site ne nomme plus",
                                   "a point the site file no longer names"),
    "archive.measurement.command": ("chaque commande écrite par le moteur, avec sa valeur et "
                                    "sa raison",
                                    "every command the engine wrote, with its value and "
                                    "reason"),
    "archive.measurement.event": ("le journal : dérogations, alarmes, connexions, changements "
                                  "de programme…",
                                  "the audit log: overrides, alarms, sign-ins, programme "
                                  "changes…"),
    "archive.tag.site": ("la commune (l'identifiant du site), sur chaque série et chaque "
                         "événement : bâtiments et armoires d'éclairage public ensemble",
                         "the commune (the site's id), on every series and event: buildings "
                         "and public lighting cabinets together"),
    "archive.tag.building": ("le bâtiment", "the building"),
    "archive.tag.zone": ("la zone du bâtiment", "the building's zone"),
    "archive.tag.cabinet": ("l'armoire d'éclairage public", "the public lighting cabinet"),
    "archive.tag.equipment": ("l'équipement programmé (une pompe de fontaine…)",
                              "the scheduled equipment (a fountain pump…)"),
    "archive.tag.point": ("la clé du point dans le fichier du site (mairie.accueil.temperature, "
                          "ep-centre.relais)",
                          "the point's key in the site file (mairie.accueil.temperature, "
                          "ep-centre.relais)"),
    "archive.tag.unit": ("l'unité : °C, %, kWh, kW, ppm ; absente pour les états et les modes",
                         "the unit: °C, %, kWh, kW, ppm; absent for states and modes"),
    "archive.tag.meter": ("ce que compte un compteur ou mesure une puissance : heating "
                          "(chaleur fournie aux émetteurs), electricity (électricité), gas "
                          "(gaz), water (eau), lighting (éclairage public)",
                          "what a meter counts or a power measures: heating (heat delivered to "
                          "the emitters), electricity, gas, water, lighting (public lighting)"),
    "archive.tag.kind": ("la sorte d'événement (override, alarm, command, login…)",
                         "the kind of event (override, alarm, command, login…)"),
    "archive.tag.reason_code": ("la raison du moteur, en code (lighting.cut, heating.preheat…)",
                                "the engine's reason, as a code (lighting.cut, "
                                "heating.preheat…)"),
    "archive.query.consumption": ("Consommation du mois, par compteur",
                                  "Consumption of the month, per meter"),
    "archive.query.consumption.explained": (
        "La consommation d'un jour est le dernier index du jour moins celui de la veille ; "
        "les jours du mois sont additionnés. Bâtiments et armoires ensemble, par sorte de "
        "compteur (meter) : sans building, cabinet et point dans le dernier GROUP BY, le "
        "total de la commune par sorte de compteur.",
        "A day's consumption is the day's last index minus the day before's; the days of the "
        "month are added up. Buildings and cabinets together, by kind of meter (meter): "
        "without building, cabinet and point in the last GROUP BY, the commune's total for "
        "each kind of meter."),
    "archive.query.comfort": ("Températures et consignes, par zone, heure par heure",
                              "Temperatures and setpoints, per zone, hour by hour"),
    "archive.query.comfort.explained": (
        "Les moyennes horaires des deux, une série par zone ; 23 heures le 29 mars, jour du "
        "passage à l'heure d'été.",
        "The hourly means of both, a series per zone; 23 hours on 29 March, when the clocks "
        "go forward."),
    "archive.query.modes": ("Heures dans chaque mode de chauffage, par zone",
                            "Hours in each heating mode, per zone"),
    "archive.query.modes.explained": (
        "Chaque mesure vaut jusqu'à la suivante, sur une grille d'une minute : juste avec "
        "une mesure par minute comme par heure. Ici le mode 2 (réduit) ; 1 confort, "
        "3 hors-gel, 4 arrêt. Un arrêt du moteur compte dans le dernier mode.",
        "Each sample holds until the next, on a one-minute grid: right with a sample a "
        "minute or an hour. Here mode 2 (reduced); 1 comfort, 3 frost protection, 4 off. A "
        "stop of the engine counts in the last mode."),
    "archive.query.lighting": ("Heures d'éclairage public, par armoire",
                               "Hours of public lighting, per cabinet"),
    "archive.query.lighting.explained": (
        "Les heures où le relais de chaque armoire était fermé, pondérées par le temps "
        "comme les modes.",
        "The hours each cabinet's relay was on, weighted by time as the modes are."),
    "archive.query.events": ("Dérogations du mois, avec qui et pourquoi",
                             "Overrides of the month, with who and why"),
    "archive.query.events.explained": (
        "Le texte des événements est en français (message, reason) et en anglais "
        "(message_en, reason_en). VictoriaMetrics change les textes en zéros : y lire le "
        "journal du panneau.",
        "Events' text is in French (message, reason) and English (message_en, reason_en). "
        "VictoriaMetrics turns text into zeros: there, read the panel's audit log."),
}

_OVERVIEW: dict[str, Template] = {
    # what the overview shows first (web/attention.py), each in one line on a phone
    "mode.override": ("dérogation", "override"),
    "mode.preheat": ("préchauffage", "pre-heat"),
    "severity.critical": ("critique", "critical"),
    "severity.warning": ("avertissement", "warning"),
    "overview.alarm": ("{severity} — {place}", "{severity} — {place}"),
    "overview.alarm_since": ("depuis le {since:date} à {since:clock}",
                             "since {since:date} at {since:clock}"),
    "overview.override": ("{value:temperature} jusqu'à {until:moment}, par {who}",
                          "{value:temperature} until {until:moment}, by {who}"),
    "overview.order_on": ("allumé jusqu'à {until:moment}, par {who}",
                          "on until {until:moment}, by {who}"),
    "overview.order_off": ("éteint jusqu'à {until:moment}, par {who}",
                           "off until {until:moment}, by {who}"),
    "overview.override_why": ("« {why} », depuis le {start:date} à {start:clock}",
                              "'{why}', since {start:date} at {start:clock}"),
    "overview.applied": ("appliquée par le moteur", "applied by the engine"),
    "overview.pending": ("en attente du prochain passage du moteur",
                         "waiting for the engine's next tick"),
    "overview.too_cold": ("trop froid : {temperature:temperature}, consigne "
                          "{setpoint:temperature}",
                          "too cold: {temperature:temperature}, setpoint "
                          "{setpoint:temperature}"),
    "overview.too_cold_why": ("plus de {by:number} K sous la consigne en vigueur à chaque "
                              "mesure depuis {minutes:duration}, hors préchauffage",
                              "more than {by:number} K below the setpoint in force at every "
                              "reading for {minutes:duration}, pre-heat aside"),
    "overview.too_warm": ("trop chaud : {temperature:temperature}, consigne "
                          "{setpoint:temperature}",
                          "too warm: {temperature:temperature}, setpoint "
                          "{setpoint:temperature}"),
    "overview.too_warm_why": ("plus de {by:number} K au-dessus de la consigne de confort à "
                              "chaque mesure depuis {minutes:duration}",
                              "more than {by:number} K above the comfort setpoint at every "
                              "reading for {minutes:duration}"),
    "overview.heating": ("{mode}, {temperature:temperature} → {setpoint:temperature}",
                         "{mode}, {temperature:temperature} → {setpoint:temperature}"),
    "overview.valve": ("vanne ou émetteur ouvert à {valve:whole} %",
                       "valve or emitter open at {valve:whole} %"),
}

SHORT: dict[str, Template] = {
    # One line on a phone (``Reason.summary``): what the full sentence says in brackets,
    # and its longer parts, are left to the details one tap away.
    "override": ("Dérogation de {who} jusqu'à {until:moment}",
                 "Override by {who} until {until:moment}"),
    "zone.degraded": ("Mode dégradé : {decision}", "Degraded mode: {decision}"),
    "safety.capped": ("{decision} — plafonné à {value:temperature}",
                      "{decision} — capped at {value:temperature}"),
    "safety.frost_floor": ("{decision} — relevé à {value:temperature}",
                           "{decision} — raised to {value:temperature}"),
    "safety.kept_on": ("{decision} — maintenu en marche encore {wait} s",
                       "{decision} — kept on {wait} s more"),
    "safety.kept_off": ("{decision} — maintenu en arrêt encore {wait} s",
                        "{decision} — kept off {wait} s more"),
    "safety.fallback": ("{decision} — repli sûr sur {value:g}",
                        "{decision} — safe fallback to {value:g}"),
    "occupation.occupied_because": ("occupé, {because}", "occupied, {because}"),
    "occupation.unoccupied_because": ("inoccupé, {because}", "unoccupied, {because}"),
    "lighting.at_sunset": ("allumé au coucher du soleil à {sunset:clock}",
                           "on at sunset, {sunset:clock}"),
    "lighting.after_sunset": ("allumé {minutes} min après le coucher du soleil",
                              "on {minutes} min after sunset"),
    "lighting.before_sunrise": ("éteint {minutes} min avant le lever du soleil",
                                "off {minutes} min before sunrise"),
    "lighting.on_again": ("rallumé à {start:clock} jusqu'au lever du soleil",
                          "on again at {start:clock} until sunrise"),
    "circuit.occupied_unseen": ("{occupied} jusqu'à {until:moment} : allumé",
                                "{occupied} until {until:moment}: on"),
    "circuit.unoccupied_unseen": ("{unoccupied} : éteint", "{unoccupied}: off"),
    "heating.occupied": ("Occupé jusqu'à {until:moment} : confort {setpoint:temperature}",
                         "Occupied until {until:moment}: comfort {setpoint:temperature}"),
    "heating.occupied_because": ("{because} jusqu'à {until:moment} : confort "
                                 "{setpoint:temperature}",
                                 "{because} until {until:moment}: comfort "
                                 "{setpoint:temperature}"),
    "heating.fixed_preheat": ("Préchauffage pour {start:moment}", "Pre-heat for {start:moment}"),
    "heating.fixed_preheat_refused": ("Préchauffage pour {start:moment}",
                                      "Pre-heat for {start:moment}"),
    "heating.fixed_preheat_late": ("Préchauffage tardif pour {start:moment}",
                                   "Late pre-heat for {start:moment}"),
    "heating.long_absence": ("Longue absence : hors-gel {setpoint:temperature}",
                             "Long absence: frost protection {setpoint:temperature}"),
    "heating.long_absence_because": ("{because} : hors-gel {setpoint:temperature}",
                                     "{because}: frost protection {setpoint:temperature}"),
    "heating.unoccupied_because": ("{because} {when} : réduit {setpoint:temperature}",
                                   "{because} {when}: reduced {setpoint:temperature}"),
    "heating.seldom_used": ("Période rarement utilisée : {setback}",
                            "Seldom used period: {setback}"),
    "heating.arrival_expected": ("Arrivée attendue : confort {setpoint:temperature}",
                                 "Arrival expected: comfort {setpoint:temperature}"),
    "heating.learned_setback": ("Inoccupé : {setback}{then}", "Unoccupied: {setback}{then}"),
    "heating.preheat": ("Préchauffage pour l'arrivée à {arrival:moment}",
                        "Pre-heat for the arrival at {arrival:moment}"),
    "heating.preheat_late": ("Préchauffage tardif pour l'arrivée à {arrival:moment}",
                             "Late pre-heat for the arrival at {arrival:moment}"),
    "heating.preheat_event": ("Préchauffage pour {event} à {arrival:moment}",
                              "Pre-heat for {event} at {arrival:moment}"),
    "heating.preheat_event_late": ("Préchauffage tardif pour {event} à {arrival:moment}",
                                   "Late pre-heat for {event} at {arrival:moment}"),
    "heating.waiting_plant": (", préchauffage à {begin:moment}, quand le chauffage sera "
                              "disponible",
                              ", pre-heat at {begin:moment}, when heat is available"),
    "heating.no_heat": (", préchauffage impossible : chauffage indisponible",
                        ", no pre-heat possible: heat not available"),
    "heating.preheat_ahead": ("Préchauffage avancé jusqu'à {end:clock}, avant la coupure du "
                              "chauffage",
                              "Pre-heat brought forward until {end:clock}, before heat stops"),
    "heating.early_stop": ("Arrêt anticipé : consigne {floor:temperature}",
                           "Early stop: setpoint {floor:temperature}"),
    "heating.ahead": ("{decision}, envoyé en avance pour la radio",
                      "{decision}, sent ahead for the radio"),
    "radio.deferred": ("Consigne maintenue à {held:temperature} : envois radio comptés",
                       "Setpoint kept at {held:temperature}: downlinks budgeted"),
    "setback.reduced_surprises": ("réduit {setpoint:temperature}",
                                  "reduced {setpoint:temperature}"),
    "setback.deep": ("hors-gel {setpoint:temperature}",
                     "frost protection {setpoint:temperature}"),
    "plant.frost_unavailable": ("{why} ; ALERTE : chauffage indisponible",
                                "{why}; ALERT: heat not available"),
    "plant.unavailable": ("Chaufferie à l'arrêt : chauffage indisponible à cette heure",
                          "Plant off: heat not available now"),
    "plant.kept_on": ("Chaufferie maintenue en marche {minutes:duration} encore",
                      "Plant kept on {minutes:duration} more"),
    "plant.kept_off": ("Chaufferie maintenue à l'arrêt {minutes:duration} encore",
                       "Plant kept off {minutes:duration} more"),
    "plant.idle": ("Chaufferie à l'arrêt : aucune zone ne demande de chaleur",
                   "Plant off: no zone needs heat"),
}
"""Short forms of the codes whose sentence is long or says more in brackets, for
``Reason.summary``; every other code's summary is its sentence."""

_DEMO: dict[str, Template] = {
    "demo.new_history": ("nouveau stockage {db}, avec l'historique de la commune",
                         "new store {db}, with the commune's history"),
    "demo.new_empty": ("nouveau stockage {db}, vide", "new store {db}, empty"),
    "demo.resumed": ("stockage {db} conservé : la démo reprend le {at:date} à {at:clock}, là "
                     "où elle s'était arrêtée, avec ce qui a été fait dans le panneau "
                     "(--afresh pour repartir de zéro)",
                     "store {db} kept: the demo takes up on {at:date} at {at:clock}, where "
                     "it stopped, with what was done in the panel (--afresh to start anew)"),
    "demo.accounts_kept": ("comptes de la démo conservés, avec leurs mots de passe : {names} "
                           "(un nouveau mot de passe : gtb users passwd NOM --db {db})",
                           "the demo's accounts kept, with their passwords: {names} (a new "
                           "password: gtb users passwd NAME --db {db})"),
}

_SIM_BROKER: dict[str, Template] = {
    # the Mosquitto that gtb sim and gtb demo start (gtb.sim.broker)
    "broker.missing": ("Mosquitto n'est pas installé ({path} manque) : installez le paquet "
                       "mosquitto (sudo apt-get install mosquitto), ou lancez make run",
                       "Mosquitto is not installed ({path} is missing): install the "
                       "mosquitto package (sudo apt-get install mosquitto), or run make run"),
    "broker.port_taken": ("le port 127.0.0.1:{port} du courtier MQTT est déjà pris : "
                          "arrêtez ce qui l'écoute, ou choisissez-en un autre (--mqtt-port)",
                          "the MQTT broker's port 127.0.0.1:{port} is already taken: stop "
                          "what listens on it, or choose another (--mqtt-port)"),
    "broker.exited": ("Mosquitto s'est arrêté au démarrage : {log}",
                      "Mosquitto stopped as it started: {log}"),
    "broker.not_listening": ("Mosquitto n'écoute pas après {seconds:whole} s : {log}",
                             "Mosquitto does not listen after {seconds:whole} s: {log}"),
    "broker.started": ("courtier MQTT Mosquitto démarré sur 127.0.0.1:{port}, arrêté avec "
                       "la commune virtuelle",
                       "Mosquitto MQTT broker started on 127.0.0.1:{port}, stopped with the "
                       "virtual commune"),
}

_WHO: dict[str, Template] = {
    # who acted, as the audit log and the panel name them
    "actor.engine": ("moteur", "engine"),
    "role.viewer": ("lecteur", "viewer"),
    "role.operator": ("opérateur", "operator"),
    "role.admin": ("administrateur", "admin"),
    "login": ("Connexion {who:de} depuis {where}", "{who} signed in from {where}"),
    "login.role": ("rôle {role}", "role {role}"),
    "logout": ("Déconnexion {who:de}", "{who} signed out"),
}

CATALOGUE: dict[str, Template] = {**_GENERAL, **_ENGINE, **_CALENDAR, **_OCCUPATION, **_HEATING,
                                  **_LIGHTING, **_NUISANCE, **_JOBS, **_AGENDA, **_PEOPLE,
                                  **_EXPORT, **_EXPORT_GUIDE, **_ARCHIVE, **_OVERVIEW, **_DEMO,
                                  **_SAVINGS, **_WHO, **_MQTT, **_LORAWAN, **_RADIO,
                                  **_LORAWAN_WAIT, **_SIM_BROKER}
"""Every reason code written by a template, and its French and English."""

WRITERS: dict[str, Callable[[Reason, Lang], str]] = {**WATCH_WRITERS}
"""Reason codes whose sentences are written by a function (``gtb.texts.watch``)."""
