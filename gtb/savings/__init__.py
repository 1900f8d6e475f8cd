"""What was saved, in kWh, euros and CO2, weather-normalised, with its uncertainty
(docs/savings.md): IPMVP option C as CalTRACK 2.0 makes it precise for daily data, the fit
judged by ASHRAE Guideline 14.

The computations are pure functions of dataclasses and arrays; ``building_days``,
``site_savings``, ``month_savings`` and the CSV readers are the thin part that reads the
store and files.
Each module imports only the ones listed before it:

- ``rounding``: the figures rounded to what their uncertainty allows, and for JSON;
- ``degree_days``: heating degree-days by the météo and the COSTIC methods;
- ``baseline``: ``SavingsError``, a meter's days and their day types, the baseline model
  and its Guideline 14 statistics;
- ``reporting``: the avoided energy with CalTRACK's uncertainty (FSU), and the losses of
  efficiency;
- ``criteria``: ASHRAE Guideline 14's criteria, those that accept a saving apart from those
  of calibration;
- ``lighting``: public lighting against its former timetable, with its uncertainty;
- ``totals``: figures summed over meters and cabinets (each kind's uncertainties added,
  heating and lighting combined as independent), and month by month;
- ``trajectory``: the path to the décret tertiaire's 2030 target, for the commune and each
  building of 1,000 m² or more;
- ``readings``: days read from the store, and readings imported from CSV files;
- ``site``: the site's figures, per heating meter and lighting cabinet, with what they
  mean, their sums and the décret tertiaire's path; the same over a month of the period;
- ``headline``: one headline per period, for the commune and each building, with the
  causes the store knows of.

The savings pages (``web.savings``) and ``gtb savings`` only present what this package
returns.
"""
