"""Calibrated blendshape -> AU parameters, written by ``scripts/au_agreement.py --write``.

Parameters only (no data). LOSO agreement at the time of fitting:

    == 327 CK+ peaks (48x48 crops x4), LOSO over subjects
       AU   n+ |    naive P     R    F1 | calibrat P     R    F1 |  learned P     R    F1
    AU01   130 |       0.99  0.68  0.80 |       0.91  0.80  0.85 |       0.97  0.96  0.97
    AU02    99 |       0.92  0.84  0.88 |       0.83  0.89  0.86 |       0.96  0.90  0.93
    AU04   122 |       0.54  0.74  0.62 |       0.58  0.74  0.65 |       0.73  0.91  0.81
    AU05    92 |       1.00  0.29  0.45 |       0.73  0.84  0.78 |       0.87  0.80  0.84
    AU06    95 |       0.00  0.00  0.00 |       0.91  0.72  0.80 |       0.86  0.75  0.80
    AU07    79 |       0.35  0.99  0.52 |       0.49  0.80  0.61 |       0.60  0.71  0.65
    AU09    61 |       0.00  0.00  0.00 |       0.46  0.85  0.60 |       0.80  0.85  0.83
    AU10    15 |       0.07  0.47  0.13 |       0.00  0.00  0.00 |       0.00  0.00  0.00
    AU12    80 |       0.71  0.94  0.81 |       0.93  0.89  0.91 |       0.91  0.90  0.91
    AU14    32 |       0.11  0.03  0.05 |       0.19  0.25  0.21 |       0.48  0.44  0.46
    AU15    33 |       0.50  0.12  0.20 |       0.33  0.70  0.45 |       0.63  0.58  0.60
    AU17   114 |       0.91  0.38  0.53 |       0.75  0.82  0.79 |       0.81  0.89  0.85
    AU20    27 |       0.51  0.67  0.58 |       0.48  0.52  0.50 |       0.74  0.74  0.74
    AU23    43 |       0.25  0.16  0.20 |       0.37  0.47  0.41 |       0.63  0.60  0.62
    AU24    43 |       0.29  0.19  0.23 |       0.29  0.51  0.37 |       0.55  0.74  0.63
    AU25   181 |       1.00  0.44  0.61 |       0.96  0.93  0.95 |       0.95  0.97  0.96
    AU26    19 |       0.11  0.47  0.18 |       0.00  0.00  0.00 |       0.17  0.21  0.19
    AU27    72 |       0.89  0.99  0.93 |       0.95  0.97  0.96 |       0.95  0.99  0.97
    mean F1 over 18 AUs with >= 5 positives: naive 0.429 | calibrated 0.594 | learned 0.708

    == 40 shared CK+ sequences, full-resolution peak frames, LOSO
       AU   n+ |    naive P     R    F1 | calibrat P     R    F1 |  learned P     R    F1
    AU01    19 |       1.00  0.63  0.77 |       1.00  0.74  0.85 |       1.00  0.79  0.88
    AU02    13 |       1.00  0.77  0.87 |       0.92  0.85  0.88 |       0.91  0.77  0.83
    AU04    20 |       0.74  0.70  0.72 |       0.87  0.65  0.74 |       0.93  0.65  0.76
    AU05    12 |       1.00  0.58  0.74 |       1.00  0.92  0.96 |       1.00  0.83  0.91
    AU06    11 |       0.00  0.00  0.00 |       0.90  0.82  0.86 |       1.00  0.82  0.90
    AU07     8 |       0.27  1.00  0.42 |       0.38  0.75  0.50 |       0.67  0.50  0.57
    AU09     9 |       0.00  0.00  0.00 |       0.56  1.00  0.72 |       1.00  0.89  0.94
    AU10     1 |       0.00  0.00  0.00 |       0.00  0.00  0.00 |       0.00  0.00  0.00
    AU12    10 |       0.71  1.00  0.83 |       1.00  1.00  1.00 |       0.83  1.00  0.91
    AU14     0 |       0.00  0.00  0.00 |       0.00  0.00  0.00 |       0.00  0.00  0.00
    AU15     5 |       0.00  0.00  0.00 |       0.60  0.60  0.60 |       0.75  0.60  0.67
    AU17    16 |       1.00  0.31  0.48 |       0.92  0.75  0.83 |       0.92  0.69  0.79
    AU20     5 |       0.50  0.60  0.55 |       0.75  0.60  0.67 |       0.80  0.80  0.80
    AU23     5 |       0.25  0.20  0.22 |       0.25  0.60  0.35 |       0.75  0.60  0.67
    AU24     4 |       0.25  0.25  0.25 |       0.25  0.50  0.33 |       0.80  1.00  0.89
    AU25    23 |       1.00  0.39  0.56 |       0.95  0.87  0.91 |       0.95  0.91  0.93
    AU26     2 |       0.22  1.00  0.36 |       0.00  0.00  0.00 |       0.33  0.50  0.40
    AU27     7 |       0.78  1.00  0.88 |       0.88  1.00  0.93 |       0.88  1.00  0.93
    mean F1 over 14 AUs with >= 5 positives: naive 0.502 | calibrated 0.771 | learned 0.821

    == neutral-referenced: the same 40 sequences (10 subjects), peak read against its own first frame, LOSO
       AU   n+ |  learned P     R    F1 | learned+ P     R    F1
    AU01    19 |       1.00  0.79  0.88 |       1.00  0.84  0.91
    AU02    13 |       0.91  0.77  0.83 |       0.92  0.85  0.88
    AU04    20 |       0.93  0.65  0.76 |       0.94  0.75  0.83
    AU05    12 |       1.00  0.83  0.91 |       1.00  0.83  0.91
    AU06    11 |       1.00  0.82  0.90 |       0.91  0.91  0.91
    AU07     8 |       0.67  0.50  0.57 |       0.67  0.50  0.57
    AU09     9 |       1.00  0.89  0.94 |       1.00  0.67  0.80
    AU10     1 |       0.00  0.00  0.00 |       0.00  0.00  0.00
    AU12    10 |       0.83  1.00  0.91 |       0.91  1.00  0.95
    AU14     0 |       0.00  0.00  0.00 |       0.00  0.00  0.00
    AU15     5 |       0.75  0.60  0.67 |       1.00  0.40  0.57
    AU17    16 |       0.92  0.69  0.79 |       0.89  0.50  0.64
    AU20     5 |       0.80  0.80  0.80 |       0.60  0.60  0.60
    AU23     5 |       0.75  0.60  0.67 |       1.00  0.40  0.57
    AU24     4 |       0.80  1.00  0.89 |       1.00  0.75  0.86
    AU25    23 |       0.95  0.91  0.93 |       0.95  0.91  0.93
    AU26     2 |       0.33  0.50  0.40 |       0.00  0.00  0.00
    AU27     7 |       0.88  1.00  0.93 |       0.75  0.86  0.80
    mean F1 over 14 AUs with >= 5 positives: learned 0.821 | learned+neutral 0.778

    == 40 neutral first frames of the same sequences (10 subjects), LOSO: faces (of 40) on which each AU is called present
       AU |      naive calibrated    learned
    AU01 |          0          4          0
    AU02 |          1          0          0
    AU04 |          8          7          8
    AU05 |          0          6          0
    AU06 |          0          0          0
    AU07 |         37          7          5
    AU09 |          0          9          5
    AU10 |          0          0          0
    AU12 |          4          0          0
    AU14 |          0         10          0
    AU15 |          0          9          2
    AU17 |          5         25          9
    AU20 |          0          0          0
    AU23 |          4         11          0
    AU24 |          4         13          1
    AU25 |          0          0          0
    AU26 |          0          0          0
    AU27 |          0          0          0
    AUs called present per neutral face: naive 1.57 | calibrated 2.52 | learned 0.75

    learned vs calibrated mean F1: ckplus48 0.594 -> 0.708, sequences40 0.771 -> 0.821 (learned better on both)

    not measured (out-of-fold Cohen's kappa below 0.2): AU10 (kappa 0.001), AU26 (kappa 0.081)
"""

# fmt: off
CALIBRATION = {'version': 1,
 'method': 'logistic regression per AU (class-balanced, L2, C=1.0) on max(left, right) '
           'blendshapes; per-AU threshold tuned for F1 on subject-grouped out-of-fold predictions; '
           "AUs whose out-of-fold Cohen's kappa is below 0.2 are not measured",
 'note': 'fitted by scripts/au_agreement.py on 367 CK+ peak frames (118 subjects): FACS codes vs '
         'MediaPipe blendshapes',
 'aus': {'1': {'features': ['browInnerUp', 'browOuterUp', 'browDown'],
               'coef': [4.259535, 1.976577, -2.379735],
               'intercept': -0.358561,
               'threshold': 0.5,
               'n_positive': 149,
               'n': 367},
         '2': {'features': ['browOuterUp', 'browInnerUp'],
               'coef': [4.695402, 4.024928],
               'intercept': -1.747876,
               'threshold': 0.4,
               'n_positive': 112,
               'n': 367},
         '4': {'features': ['browDown', 'browInnerUp', 'eyeSquint'],
               'coef': [2.529318, -1.515014, -1.041605],
               'intercept': -0.157287,
               'threshold': 0.5,
               'n_positive': 142,
               'n': 367},
         '5': {'features': ['eyeWide', 'eyeBlink', 'browOuterUp'],
               'coef': [2.865011, -4.958209, 3.566183],
               'intercept': -0.361812,
               'threshold': 0.4,
               'n_positive': 104,
               'n': 367},
         '6': {'features': ['cheekSquint', 'eyeSquint', 'mouthSmile', 'eyeBlink'],
               'coef': [-1.6e-05, 2.686332, 3.769316, 1.025054],
               'intercept': -2.672862,
               'threshold': 0.8,
               'n_positive': 106,
               'n': 367},
         '7': {'features': ['eyeSquint', 'eyeBlink', 'browDown'],
               'coef': [2.04011, 0.88284, 2.893907],
               'intercept': -2.136103,
               'threshold': 0.5,
               'n_positive': 87,
               'n': 367},
         '9': {'features': ['noseSneer', 'mouthUpperUp', 'browDown', 'eyeSquint'],
               'coef': [-0.0001, -2.860846, 2.455712, 3.312454],
               'intercept': -1.990371,
               'threshold': 0.45,
               'n_positive': 70,
               'n': 367},
         '12': {'features': ['mouthSmile', 'cheekSquint'],
                'coef': [5.62055, 1.1e-05],
                'intercept': -2.419295,
                'threshold': 0.75,
                'n_positive': 90,
                'n': 367},
         '14': {'features': ['mouthDimple', 'mouthSmile', 'mouthPress'],
                'coef': [-0.443586, -0.58821, 3.701856],
                'intercept': -0.207801,
                'threshold': 0.55,
                'n_positive': 32,
                'n': 367},
         '15': {'features': ['mouthFrown', 'mouthShrugLower', 'mouthStretch'],
                'coef': [2.355333, 3.035635, -0.981019],
                'intercept': -0.49082,
                'threshold': 0.45,
                'n_positive': 38,
                'n': 367},
         '17': {'features': ['mouthShrugLower', 'mouthShrugUpper', 'mouthRollLower', 'mouthPress',
                             'jawOpen'],
                'coef': [3.810772, 2.638909, 0.683545, -0.928503, -4.040423],
                'intercept': -0.059017,
                'threshold': 0.5,
                'n_positive': 130,
                'n': 367},
         '20': {'features': ['mouthStretch', 'mouthLowerDown', 'jawOpen'],
                'coef': [6.15277, 1.250527, -0.802681],
                'intercept': -1.198706,
                'threshold': 0.65,
                'n_positive': 32,
                'n': 367},
         '23': {'features': ['mouthPress', 'mouthRollLower', 'mouthRollUpper', 'mouthPucker',
                             'jawOpen'],
                'coef': [1.057822, 1.964241, 1.781202, 1.266867, -2.768533],
                'intercept': -0.036816,
                'threshold': 0.55,
                'n_positive': 48,
                'n': 367},
         '24': {'features': ['mouthPress', 'mouthRollLower', 'mouthShrugLower', 'jawOpen'],
                'coef': [1.451187, 0.979143, 1.526958, -3.574767],
                'intercept': -0.096055,
                'threshold': 0.55,
                'n_positive': 47,
                'n': 367},
         '25': {'features': ['jawOpen', 'mouthLowerDown', 'mouthUpperUp', 'mouthClose'],
                'coef': [5.171942, 3.265576, 4.15871, 0.032017],
                'intercept': -1.661563,
                'threshold': 0.35,
                'n_positive': 204,
                'n': 367},
         '27': {'features': ['jawOpen', 'eyeWide'],
                'coef': [7.402281, 1.435748],
                'intercept': -2.423798,
                'threshold': 0.65,
                'n_positive': 79,
                'n': 367}},
 'unreliable': {'10': {'oof_kappa': 0.0013, 'n_positive': 16, 'n': 367},
                '26': {'oof_kappa': 0.0807, 'n_positive': 21, 'n': 367}}}
