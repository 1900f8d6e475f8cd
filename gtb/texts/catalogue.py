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

_DATA: dict[str, Template] = {
    # the auditors' exports: resolutions as the audit log and file names say them
    "resolution.raw": ("mesures brutes", "raw samples"),
    "resolution.hour": ("heure", "hour"),
    "resolution.day": ("jour", "day"),
    "resolution.month": ("mois", "month"),
}

CATALOGUE: dict[str, Template] = {**_GENERAL, **_ENGINE, **_CALENDAR, **_OCCUPATION, **_HEATING,
                                  **_LIGHTING, **_NUISANCE, **_JOBS, **_AGENDA, **_PEOPLE,
                                  **_WHO, **_DATA}
"""Every reason code written by a template, and its French and English."""

WRITERS: dict[str, Callable[[Reason, Lang], str]] = {**WATCH_WRITERS}
"""Reason codes whose sentences are written by a function (``gtb.texts.watch``)."""
